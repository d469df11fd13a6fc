import Foundation
import PackagePlugin

/// Embeds every file under the package's `flows/` directory in the target it is applied to, as
/// base64 string literals in one generated Swift file (decoded at run time: a string literal
/// compiles in a moment where a `[UInt8]` literal of an image takes the type checker minutes).
///
/// A prebuild command, so it runs before every build and sees files added since the last one
/// (a build command's inputs are fixed when the plugin is planned). It runs `/bin/sh` with
/// `find`, `base64` and `cmp`, and rewrites the generated file only when its content changes, so
/// an unchanged `flows/` recompiles nothing.
@main
struct EmbedFlows: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let flows = context.package.directoryURL.appending(path: "flows")
        let output = context.pluginWorkDirectoryURL.appending(path: "Generated")
        return [
            .prebuildCommand(
                displayName: "Embedding flows/ in \(target.name)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", Self.script, "embed-flows", flows.path, output.path],
                outputFilesDirectory: output
            )
        ]
    }

    /// Writes `ShippedFlowFiles.swift`: `ShippedFlows.encodedFiles`, path relative to `flows/` →
    /// base64 of the bytes, in byte order of the paths. Hidden files and directories are skipped,
    /// and so are names a Swift string literal would need escapes for.
    static let script = #"""
        set -eu
        source="$1"; output="$2"
        mkdir -p "$output"
        generated="$output/ShippedFlowFiles.swift"
        temporary="$output/.ShippedFlowFiles.swift.tmp"
        {
          echo '// Generated at build time from flows/ by the EmbedFlows plugin (Plugins/EmbedFlows); do not edit.'
          echo 'extension ShippedFlows {'
          echo '    /// Every file under flows/ when the binary was built: its path there → its bytes as base64.'
          echo '    static let encodedFiles: [String: String] = ['
          if [ -d "$source" ]; then
            (cd "$source" && find . -name '.*' ! -name . -prune -o -type f -print | LC_ALL=C sort) | while IFS= read -r file; do
              case "$file" in *'"'* | *'\'* ) continue ;; esac
              printf '        "%s": "%s",\n' "${file#./}" "$(base64 < "$source/$file" | tr -d '\n')"
            done
          fi
          echo '        "": "",'
          echo '    ]'
          echo '}'
        } > "$temporary"
        if cmp -s "$temporary" "$generated"; then rm -f "$temporary"; else mv -f "$temporary" "$generated"; fi
        """#
}

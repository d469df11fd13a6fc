import WalkthroughCore

extension CurlScript {
    /// The helpers every exported script starts with: checks, the request function, conditions,
    /// captures, bounded polling, the amount search and the emulator's operator controls. Generic:
    /// nothing in here knows the flow. It is `Resources/prelude.sh`, embedded in the binary at build
    /// time (no resource bundle to find at run time); it reads the API version from `api_version`,
    /// the name `ShellBindings` gives the builtin, which the script sets after it.
    static let prelude: String = {
        let text = String(decoding: PackageResources.prelude_sh, as: UTF8.self)
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }()

    /// The shell variable the prelude reads the pinned API version from.
    static let apiVersionVariable = "api_version"
}

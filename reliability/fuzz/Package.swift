// swift-tools-version:6.0
import PackageDescription

/// libFuzzer targets for kira-walkthrough's parsers. Built and run by `reliability/fuzz/run`:
///
///     swift build -c debug -Xswiftc -sanitize=fuzzer,address --product <target>
///
/// Each target defines `LLVMFuzzerTestOneInput`; its `main.swift` hands the command line to
/// libFuzzer's `LLVMFuzzerRunDriver` (see `CFuzzDriver`).
let package = Package(
    name: "kira-fuzz",
    dependencies: [
        .package(name: "kira-walkthrough", path: "../.."),
    ],
    targets: [
        /// The declaration of libFuzzer's `LLVMFuzzerRunDriver`, for the targets' `main.swift`.
        .target(name: "CFuzzDriver"),
        /// `FlowLoader.load` on arbitrary text: invalid flows throw `FlowLoadError`, never crash.
        .executableTarget(
            name: "FuzzFlowLoader",
            dependencies: ["CFuzzDriver", .product(name: "WalkthroughCore", package: "kira-walkthrough")]
        ),
        /// `SessionStore.load` on arbitrary file contents: a `SessionFileError` or a session, never a crash.
        .executableTarget(
            name: "FuzzSessionFile",
            dependencies: [
                "CFuzzDriver",
                .product(name: "SessionStore", package: "kira-walkthrough"),
                .product(name: "WalkthroughCore", package: "kira-walkthrough"),
            ]
        ),
        /// `JSONValue.parse`, the writers, `PrettyBody` and its highlighter, and a rendered screen.
        .executableTarget(
            name: "FuzzPrettyBody",
            dependencies: [
                "CFuzzDriver",
                .product(name: "KiraJSON", package: "kira-walkthrough"),
                .product(name: "TerminalUI", package: "kira-walkthrough"),
                .product(name: "WalkthroughCore", package: "kira-walkthrough"),
            ]
        ),
        /// Not a fuzz target: the evidence for lsan-suppressions.txt's rules on enum payloads.
        .executableTarget(
            name: "LeakScanProof",
            dependencies: [.product(name: "KiraJSON", package: "kira-walkthrough")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

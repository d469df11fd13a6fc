// swift-tools-version:6.0
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "kira-walkthrough",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kira-walkthrough", targets: ["KiraWalkthroughCLI"]),
        .library(name: "KiraSandbox", targets: ["KiraSandbox"]),
        // For the fuzzing package under reliability/fuzz, which depends on this one by path.
        .library(name: "KiraJSON", targets: ["KiraJSON"]),
        .library(name: "WalkthroughCore", targets: ["WalkthroughCore"]),
        .library(name: "SessionStore", targets: ["SessionStore"]),
        .library(name: "TerminalUI", targets: ["TerminalUI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // Hummingbird's own foundations, named directly because the emulator uses their types.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        /// Pure JSON value, parser and writer shared by the emulator and the walkthrough; objects are
        /// `OrderedDictionary`s, and `Codable` values convert to and from `JSONValue`.
        .target(
            name: "KiraJSON",
            dependencies: [.product(name: "OrderedCollections", package: "swift-collections")],
            swiftSettings: upcoming
        ),
        /// Pure: what a host name says (loopback or not), shared by the client and the emulator.
        .target(name: "HostNames", swiftSettings: upcoming),
        /// Crash-safe file writes and advisory locks, shared by the emulator and the session store.
        .target(name: "DurableFiles", swiftSettings: upcoming),
        /// Pure: the flow format, the walkthrough state machine, the session model. No IO.
        .target(
            name: "WalkthroughCore",
            dependencies: ["KiraJSON", .product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: upcoming
        ),
        /// Pure: the coach's rules (data), its request log entries and the evaluator that turns a log
        /// into a checklist and findings. Knows no API: the rules come from flows/coach.yaml.
        .target(
            name: "Coach",
            dependencies: ["KiraJSON", .product(name: "Yams", package: "Yams")],
            swiftSettings: upcoming
        ),
        /// The Kira API over HTTP: headers, token lifecycle, retries, recording.
        .target(
            name: "KiraClient",
            dependencies: [
                "KiraJSON",
                "HostNames",
                "WalkthroughCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        /// Session files: where they live, atomic writes, locks.
        .target(name: "SessionStore", dependencies: ["WalkthroughCore", "DurableFiles", "KiraJSON"], swiftSettings: upcoming),
        /// How a run talks to the person: the presenter protocol, with no network stack, so the
        /// terminal interface and its tests build without any server or client package.
        .target(name: "WalkthroughPresentation", dependencies: ["WalkthroughCore", "KiraJSON"], swiftSettings: upcoming),
        /// Runs a flow: the engine's actions performed with the client, the store and a presenter.
        .target(
            name: "WalkthroughRunner",
            dependencies: [
                "WalkthroughCore", "WalkthroughPresentation", "KiraClient", "SessionStore", "DurableFiles", "KiraJSON", "WebhookInbox",
            ],
            swiftSettings: upcoming
        ),
        /// Turns a session into a curl script, a HAR file or a Markdown transcript; checks flows. Pure.
        /// Its bash prelude is embedded in the code (no resource bundle: the binary runs from anywhere).
        .target(
            name: "Exports", dependencies: ["WalkthroughCore", "KiraJSON"],
            resources: [.embedInCode("Resources/prelude.sh")], swiftSettings: upcoming
        ),
        /// Spawning programs with an empty signal mask, default dispositions and no stray descriptors
        /// (the `$EDITOR` of the terminal interface; tmux in the tests).
        .target(name: "ChildProcesses", swiftSettings: upcoming),
        /// ncursesw, through a shim header that switches on the wide-character API.
        .systemLibrary(name: "CNcursesw", pkgConfig: "ncursesw", providers: [.apt(["libncurses-dev"])]),
        /// The full-screen terminal interface: pure views rendering into a grid, drawn by ncurses.
        /// The only module that imports CNcursesw.
        .target(
            name: "TerminalUI",
            dependencies: [
                "CNcursesw", "ChildProcesses", "DurableFiles", "WalkthroughCore", "WalkthroughPresentation", "KiraJSON", "Coach",
            ],
            swiftSettings: upcoming
        ),
        /// A local listener for Kira webhooks: signature check, dedupe, records.
        .target(
            name: "WebhookInbox",
            dependencies: [
                "WalkthroughCore", "KiraJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        /// The stateful Kira sandbox emulator: domain state (an actor) and its HTTP front.
        .target(
            name: "KiraSandbox",
            dependencies: [
                "KiraJSON",
                "Coach",
                "HostNames",
                "DurableFiles",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        /// Embeds every file under flows/ in the target that uses it (generated base64 literals).
        .plugin(name: "EmbedFlows", capability: .buildTool()),
        /// The flows shipped inside the binary (all of flows/, embedded at build time) and
        /// `FlowSource`: a flow by shipped name or by path, and the files it names. Reads files
        /// only for flows given by path.
        .target(name: "ShippedFlows", dependencies: ["WalkthroughCore"], swiftSettings: upcoming, plugins: ["EmbedFlows"]),
        /// The `kira-walkthrough` executable: command-line parsing and wiring only.
        .executableTarget(
            name: "KiraWalkthroughCLI",
            dependencies: [
                "KiraSandbox",
                "KiraJSON",
                "Coach",
                "WalkthroughCore",
                "WalkthroughPresentation",
                "WalkthroughRunner",
                "KiraClient",
                "HostNames",
                "SessionStore",
                "Exports",
                "TerminalUI",
                "ShippedFlows",
                "DurableFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: upcoming,
            // The release binary is linked by lld, not position-independent, exporting no symbol:
            // gold's 134,000 relative relocations (3 MB read at every start, and the data they
            // dirty) and 42,000 exported symbols were 4 MB of the terminal interface's resident
            // memory (docs/benchmarks.md, "Peak memory of the TUI"). Packed relocations
            // (`-z pack-relative-relocs`) would do as well but need glibc 2.36; this keeps 2.35.
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld", "-Xlinker", "--no-export-dynamic", "-Xclang-linker", "-no-pie"], .when(platforms: [.linux], configuration: .release))
            ]
        ),
        /// `bench/run`'s in-process figures (rendering a large response, saving a session); not a test.
        .executableTarget(
            name: "KiraBench",
            dependencies: ["KiraJSON", "WalkthroughCore", "SessionStore", "TerminalUI", "DurableFiles"],
            swiftSettings: upcoming
        ),
        /// What the test targets share: an emulator on a loopback port, the built binary as a
        /// subprocess, request fixtures. Not a test target itself.
        .target(
            name: "KiraTestSupport",
            dependencies: [
                "KiraSandbox", "KiraJSON", "Coach", "KiraClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/KiraTestSupport",
            swiftSettings: upcoming
        ),
        .testTarget(name: "KiraJSONTests", dependencies: ["KiraJSON"], swiftSettings: upcoming),
        .testTarget(name: "CoachTests", dependencies: ["Coach", "KiraJSON"], swiftSettings: upcoming),
        .testTarget(
            name: "WalkthroughTests",
            dependencies: [
                "WalkthroughCore", "WalkthroughPresentation", "WalkthroughRunner", "KiraClient", "SessionStore", "KiraSandbox", "KiraJSON",
                "DurableFiles", "ShippedFlows", "KiraTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "TerminalUITests",
            dependencies: ["TerminalUI", "WalkthroughCore", "WalkthroughPresentation", "KiraJSON", "Coach", "KiraTestSupport"],
            exclude: ["Snapshots"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "ExportTests",
            dependencies: [
                "KiraTestSupport",
                "Exports", "WalkthroughCore", "WalkthroughRunner", "SessionStore", "KiraSandbox", "KiraClient", "KiraJSON", "Coach",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "KiraClientTests",
            dependencies: [
                "KiraTestSupport",
                "KiraClient", "WalkthroughCore", "SessionStore", "KiraSandbox", "KiraJSON", "DurableFiles", "HostNames",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "KiraSandboxTests",
            dependencies: [
                "KiraTestSupport",
                "KiraSandbox",
                "KiraJSON",
                "ChildProcesses",
                "WalkthroughCore",
                "Coach",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: upcoming
        ),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for PrivacyKit's parsers, in a package of their own so the main
// package's `swift build` and `swift test` never see sanitizer flags. Build and run them
// with `scripts/fuzz`, which passes `-sanitize=address` and coverage instrumentation to
// every Swift module (PrivacyKit itself must be instrumented, not only this harness); only
// this executable links libFuzzer, because the policy-embedding build tool has a main of
// its own and would not link with it.
let package = Package(
    name: "PrivacyKitFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "PrivacyKit", path: "..")],
    targets: [
        .target(name: "CLibFuzzer"),
        // One binary for every target (one link, not nine): the first argument names it.
        .executableTarget(
            name: "privacykit-fuzz",
            dependencies: [
                "CLibFuzzer",
                .product(name: "PrivacyKit", package: "PrivacyKit"),
                .product(name: "Sodium", package: "PrivacyKit"),
            ],
            swiftSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])],
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])]
        ),
    ]
)

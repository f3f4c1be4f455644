// swift-tools-version:6.1
import PackageDescription

// Every target: Swift 6 language mode plus the upcoming features swift-log adopts, so
// imports stay explicit and no C type leaks through a public API by accident.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "PrivacyKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Sodium", targets: ["Sodium"]),
        .library(name: "PrivacyKit", targets: ["PrivacyKit"]),
        // The PostgreSQL store, a product of its own: the embedded default links no server
        // driver (and builds without SwiftNIO).
        .library(name: "PrivacyKitPostgres", targets: ["PrivacyKitPostgres"]),
        .executable(name: "privacyctl", targets: ["privacyctl"]),
        .executable(name: "privacyd", targets: ["privacyd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // PostgreSQL's wire protocol in Swift (Vapor's, well kept, on SwiftNIO), for the shared
        // store; SwiftNIO, its TLS and swift-log are what it is built on and what the
        // connection code names directly.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // privacyd's HTTP server: Hummingbird 2 (SwiftNIO, async/await, its TLS module on
        // swift-nio-ssl, which the PostgreSQL store already links), the Swift server stack
        // this machine builds with the smallest dependency tree of the two it offers.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0"),
        // Its HTTP field names (HTTPField.Name), for privacyd's own headers.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // X.509 parsing (Apple's, well kept), for the subject of a client's TLS certificate:
        // swift-nio-ssl verifies the chain but does not expose the subject name.
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.0.0"),
        // The HTTP benchmark's client (Benchmarks/PrivacydBench): keep-alive, TLS, async, on
        // the same SwiftNIO as the server; only that benchmark links it.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(
            name: "Sodium",
            dependencies: ["CSodium"],
            swiftSettings: strictSettings
        ),
        // Turns the repository's top-level Policies/ into Swift source at build time, so
        // the default policy set ships inside the library and there is one copy of it.
        .executableTarget(
            name: "embed-policies",
            swiftSettings: strictSettings
        ),
        .plugin(
            name: "EmbedPolicies",
            capability: .buildTool(),
            dependencies: ["embed-policies"]
        ),
        // docs/openapi.json into PrivacyServer, which serves it (the same tool).
        .plugin(
            name: "EmbedOpenAPI",
            capability: .buildTool(),
            dependencies: ["embed-policies"]
        ),
        // Google's libphonenumber (Debian libphonenumber-dev) behind a plain C interface.
        // Warnings from the library's headers are silenced with pragmas around their
        // #includes (not unsafeFlags, which would stop other packages depending on this one).
        .target(
            name: "CPhoneNumber",
            linkerSettings: [.linkedLibrary("phonenumber")]
        ),
        // O_DIRECT and sync_file_range, which need _GNU_SOURCE (Swift's Glibc module lacks
        // them): backups are written past the page cache.
        .target(name: "CFileIO"),
        // Zstandard (Debian libzstd-dev): optional compression of a backup before encryption.
        // A well-kept, fast compressor that Debian ships; a vault's store compresses to about
        // half (its plain columns, JSON and page slack), ciphertexts not at all.
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(
            name: "PrivacyKit",
            dependencies: [
                "Sodium",
                "CPhoneNumber",
                "CFileIO",
                "CZstd",
                .product(name: "GRDB", package: "GRDB.swift"),
                // GRDB's own SQLite module: for the WAL hook (Store/WALCheckpointer.swift).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings,
            plugins: ["EmbedPolicies"]
        ),
        .target(
            name: "PrivacyKitPostgres",
            dependencies: [
                "PrivacyKit",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "privacyctl",
            dependencies: [
                "PrivacyKit",
                "PrivacyKitPostgres",
                "Sodium",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // privacyd's API (routes, authentication, errors) as a library, so tests and the
        // benchmark start it in-process as well as through the executable.
        .target(
            name: "PrivacyServer",
            dependencies: [
                "PrivacyKit",
                "PrivacyKitPostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings,
            plugins: ["EmbedOpenAPI"]
        ),
        .executableTarget(
            name: "privacyd",
            dependencies: [
                "PrivacyServer",
                "PrivacyKit",
                "PrivacyKitPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // Release-mode benchmarks (`swift run -c release privacykit-bench`); see Benchmarks/README.md.
        .executableTarget(
            name: "privacykit-bench",
            dependencies: ["PrivacyKit", "PrivacyKitPostgres", "Sodium", "CSodium", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Benchmarks/PrivacyKitBench",
            swiftSettings: strictSettings
        ),
        // privacyd over HTTPS against a minimal endpoint of the same stack (`swift run -c
        // release privacyd-bench`); see Benchmarks/README.md.
        .executableTarget(
            name: "privacyd-bench",
            dependencies: [
                "PrivacyKit",
                "PrivacyServer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/PrivacydBench",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SodiumTests",
            dependencies: ["Sodium"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PrivacyKitTests",
            dependencies: ["PrivacyKit", "PrivacyKitPostgres", "Sodium", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PrivacyKitPostgresTests",
            dependencies: ["PrivacyKitPostgres", "PrivacyKit", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PrivacyServerTests",
            dependencies: ["privacyd", "privacyctl", "PrivacyServer", "PrivacyKit", "Sodium"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PrivacyctlTests",
            dependencies: ["privacyctl", "PrivacyKit", "PrivacyKitPostgres", "Sodium", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSettings
        ),
    ],
    cxxLanguageStandard: .cxx17
)

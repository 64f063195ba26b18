// swift-tools-version:6.1
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "swift-ocean",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ocean", targets: ["ocean"]),
        .library(name: "EventHTTP", targets: ["EventHTTP"]),
        .library(name: "JQ", targets: ["JQ"]),
        .library(name: "Ocean", targets: ["Ocean"]),
        .library(name: "OceanCatalog", targets: ["OceanCatalog"]),
        .library(name: "OceanPort", targets: ["OceanPort"]),
        .library(name: "OceanServer", targets: ["OceanServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // System library: libevent's evhttp (Debian: libevent-dev; `make` installs it when missing).
        .systemLibrary(
            name: "CLibevent",
            providers: [.apt(["libevent-dev"])]
        ),

        // Small pieces every target shares: the one lock type, JSON string escaping.
        .target(
            name: "Essentials",
            swiftSettings: strictSwift
        ),

        // System library: libjq 1.6 (Debian: libjq-dev).
        .systemLibrary(
            name: "CJQ",
            providers: [.apt(["libjq-dev"])]
        ),

        // libjq calls that a trap, an abort or an endless loop inside libjq 1.6 cannot take the
        // process down with (C: signal handlers and sigsetjmp around single libjq calls).
        .target(
            name: "CJQGuard",
            dependencies: ["CJQ"],
            linkerSettings: [.linkedLibrary("jq"), .linkedLibrary("pthread")]
        ),

        // jq from Swift: compiled programs, owned values, Ocean's dialect on libjq 1.6.
        .target(
            name: "JQ",
            dependencies: ["CJQ", "CJQGuard"],
            swiftSettings: strictSwift
        ),

        // The framework: mapping (port app config, jq), and later the coordinator, jobs and sinks.
        .target(
            name: "Ocean",
            dependencies: [
                "JQ",
                "Essentials",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ],
            swiftSettings: strictSwift
        ),

        // The embedded catalog: entities and job history in SQLite (GRDB, system SQLite).
        .target(
            name: "OceanCatalog",
            dependencies: [
                "Ocean",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSwift
        ),

        // Port's REST API as the destination and mapping source, and the retrying HTTP client that
        // integrations use for their own third-party APIs. The only target with async-http-client
        // (NIO, BoringSSL: minutes to build), so the core and its tests build without it.
        .target(
            name: "OceanPort",
            dependencies: [
                "Ocean",
                "Essentials",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),

        // The integrations shipped with the project: `fake` (synthetic, deterministic) and `jsonl` (files).
        .target(
            name: "OceanIntegrations",
            dependencies: ["Ocean", "Essentials", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSwift
        ),

        // The HTTP server on evhttp: loop threads, router, requests and replies from any thread.
        .target(
            name: "EventHTTP",
            dependencies: [
                "CLibevent",
                "Essentials",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSwift
        ),

        // The service: routes, readiness, lifecycle.
        .target(
            name: "OceanServer",
            dependencies: [
                "EventHTTP",
                "Essentials",
                "Ocean",
                "OceanCatalog",
                "OceanIntegrations",
                "OceanPort",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),

        // The command-line entry point: `ocean serve`, ...
        .executableTarget(
            name: "ocean",
            dependencies: [
                "OceanServer",
                "Ocean",
                "JQ",
                "Essentials",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),

        // The two integrations of the guide (docs/writing-an-integration.md), built and tested so the
        // guide's code is code that works: Jira-style (a handler per kind, selector fields of its
        // own) and Octopus-style (one handler for every kind, pages of many spaces merged).
        .target(
            name: "ExampleIntegrations",
            dependencies: ["Ocean", "OceanPort"],
            path: "Examples/ExampleIntegrations",
            swiftSettings: strictSwift
        ),
        // The Jira-style integration as its own service binary, as the guide shows it.
        .executableTarget(
            name: "jira-example",
            dependencies: ["ExampleIntegrations", "OceanServer", "OceanPort", .product(name: "Logging", package: "swift-log")],
            path: "Examples/JiraService",
            swiftSettings: strictSwift
        ),

        // Test support: a small blocking HTTP/1.1 client on raw sockets, so tests can send exactly
        // the bytes a careless or hostile client would.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: strictSwift
        ),
        // Test support: a Port-like API on loopback (on EventHTTP), for tests and `make bench-port`.
        .target(
            name: "FakePort",
            dependencies: ["EventHTTP", .product(name: "Logging", package: "swift-log")],
            path: "Tests/FakePort",
            swiftSettings: strictSwift
        ),
        // The Port-like API as a process (`make bench-port`).
        .executableTarget(
            name: "fake-port",
            dependencies: ["FakePort"],
            path: "Tests/FakePortServer",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "EventHTTPTests",
            dependencies: ["EventHTTP", "Essentials", "TestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "JQTests",
            dependencies: ["JQ"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "OceanTests",
            dependencies: ["Ocean", "JQ", "TestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ResyncTests",
            dependencies: ["Ocean", "OceanCatalog", "OceanIntegrations", "Essentials", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "PortTests",
            dependencies: ["OceanPort", "FakePort", "Ocean", "OceanCatalog", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ExampleIntegrationTests",
            dependencies: ["ExampleIntegrations", "Ocean", "OceanCatalog", "OceanPort", "EventHTTP", "TestSupport", "jira-example",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "OceanCommandTests",
            dependencies: ["TestSupport", "FakePort", "OceanIntegrations", "Essentials"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "OceanServerTests",
            dependencies: [
                "OceanServer",
                "Essentials",
                "Ocean",
                "OceanIntegrations",
                "FakePort",
                "TestSupport",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSwift
        ),
    ]
)

// swift-tools-version:6.1
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// swift-ocean runs on Linux: EventHTTP wakes its loops through an eventfd, the jq guard uses Linux
// signals and threads (Glibc). SwiftPM has no platform entry for Linux; EventHTTP refuses to build
// elsewhere with a message saying so.
let package = Package(
    name: "swift-ocean",
    products: [
        .executable(name: "ocean", targets: ["ocean"]),
        .library(name: "EventHTTP", targets: ["EventHTTP"]),
        .library(name: "JQ", targets: ["JQ"]),
        .library(name: "OceanKit", targets: ["OceanKit"]),
        .library(name: "OceanEngine", targets: ["OceanEngine"]),
        .library(name: "OceanCatalog", targets: ["OceanCatalog"]),
        .library(name: "OceanPort", targets: ["OceanPort"]),
        .library(name: "OceanServer", targets: ["OceanServer"]),
        .library(name: "OceanTesting", targets: ["OceanTesting"]),
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
            dependencies: ["CJQ", "CJQGuard", "Essentials"],
            swiftSettings: strictSwift
        ),

        // The author kit: all an integration imports. The integration (handlers, start hooks, webhook
        // processors), its settings and spec, JSON, the mapping's configuration, and the HTTP client
        // with retries, a rate limit and pagination for the third-party API.
        .target(
            name: "OceanKit",
            dependencies: [
                "Essentials",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),

        // The engine: what runs an integration. The resync coordinator and its pipeline, the jq
        // mapper and its worker threads, reconciliation, the webhook dispatcher, and the contracts
        // of destinations and stores.
        .target(
            name: "OceanEngine",
            dependencies: [
                "OceanKit",
                "JQ",
                "Essentials",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),

        // A destination and store: entities, job history and the webhook queue in SQLite (GRDB, system SQLite).
        .target(
            name: "OceanCatalog",
            dependencies: [
                "OceanEngine",
                "OceanKit",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSwift
        ),

        // A destination and mapping source: Port's REST API.
        .target(
            name: "OceanPort",
            dependencies: [
                "OceanEngine",
                "OceanKit",
                "Essentials",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),

        // The integrations shipped with the project: `fake` (synthetic, deterministic) and `jsonl` (files).
        .target(
            name: "OceanIntegrations",
            dependencies: ["OceanKit", "Essentials"],
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

        // The service around any integration: settings, routes, lifecycle, and the command line
        // (`serve`, `resync`, `validate`, `map`) that `ocean` and an integration's own binary share.
        .target(
            name: "OceanServer",
            dependencies: [
                "EventHTTP",
                "Essentials",
                "JQ",
                "OceanKit",
                "OceanEngine",
                "OceanCatalog",
                "OceanPort",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),

        // Testing an integration in-process: one resync or one webhook delivery against given
        // settings and mapping, the job and the entities back, the log lines captured.
        .target(
            name: "OceanTesting",
            dependencies: [
                "OceanKit",
                "OceanEngine",
                "OceanCatalog",
                "Essentials",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),

        // `ocean`: the service with the built-in integrations.
        .executableTarget(
            name: "ocean",
            dependencies: ["OceanServer", "OceanIntegrations"],
            swiftSettings: strictSwift
        ),

        // The two integrations of the guide (docs/writing-an-integration.md), built and tested so the
        // guide's code is code that works: Jira-style (a handler per kind, selector fields of its
        // own) and Octopus-style (one handler for every kind, pages of many spaces merged).
        .target(
            name: "ExampleIntegrations",
            dependencies: ["OceanKit"],
            path: "Examples/ExampleIntegrations",
            swiftSettings: strictSwift
        ),
        // The Jira-style integration as its own service binary, as the guide shows it.
        .executableTarget(
            name: "jira-example",
            dependencies: ["ExampleIntegrations", "OceanServer"],
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
            dependencies: ["EventHTTP", "TestSupport", .product(name: "Logging", package: "swift-log")],
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
            dependencies: ["OceanKit", "OceanEngine", "JQ", "TestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ResyncTests",
            dependencies: ["OceanKit", "OceanEngine", "OceanCatalog", "OceanIntegrations", "Essentials", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "PortTests",
            dependencies: ["OceanPort", "FakePort", "OceanKit", "OceanEngine", "OceanCatalog", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ExampleIntegrationTests",
            dependencies: ["ExampleIntegrations", "OceanKit", "OceanTesting", "EventHTTP", "TestSupport", "jira-example",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "OceanCommandTests",
            dependencies: ["TestSupport", "FakePort", "OceanIntegrations", "OceanKit", "Essentials"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "OceanServerTests",
            dependencies: [
                "OceanServer",
                "Essentials",
                "OceanKit",
                "OceanEngine",
                "OceanIntegrations",
                "FakePort",
                "TestSupport",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSwift
        ),
    ]
)

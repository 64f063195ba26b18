import EventHTTP
import Foundation
import Logging
import OceanIntegrations
import OceanServer

/// A real `OceanApplication` on a loopback port with a catalog in a fresh temporary folder.
struct TestService {
    let application: OceanApplication
    let port: Int
    let folder: URL
    /// The engine's services, as the service group runs them.
    let engine: Task<Void, Never>

    /// Starts the HTTP server (no startup resync, no schedule: tests trigger what they need).
    static func start(
        environment: [String: String] = [:], configure: (inout ServiceSettings) -> Void = { _ in }
    ) async throws -> TestService {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-service-\(UUID().uuidString)")
        var values = ["OCEAN__CATALOG__PATH": folder.appendingPathComponent("catalog.sqlite").path, "APPLICATION__HOST": "127.0.0.1", "APPLICATION__PORT": "0"]
        values.merge(environment) { $1 }
        var settings = try ServiceSettings.load(from: Environment(values: values), integrations: .builtIn)
        configure(&settings)
        var logger = Logger(label: "test.service")
        logger.logLevel = .critical
        let application = try OceanApplication(settings: settings, integrations: .builtIn, logger: logger)
        try await application.prepare()
        let engine = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await application.coordinator.run() }
                group.addTask { await application.webhooks.run() }
            }
        }
        try await application.server.start()
        return TestService(application: application, port: application.server.port!, folder: folder, engine: engine)
    }

    func stop() async {
        await application.coordinator.shutdown()
        await application.server.shutdown()
        await application.close()
        await engine.value
    }
}

extension IntegrationChoice {
    /// What `ocean` runs: the built-in integrations by type.
    static let builtIn = IntegrationChoice.byType(BuiltInIntegrations.types, make: BuiltInIntegrations.make)
}

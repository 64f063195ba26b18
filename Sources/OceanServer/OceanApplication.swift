public import EventHTTP
public import Logging
import ServiceLifecycle

/// The whole service, assembled from its settings: what `ocean serve` runs.
public struct OceanApplication: Sendable {
    public let readiness = Readiness()
    public let server: HTTPServer
    private let logger: Logger

    public init(http: HTTPServerConfiguration, logger: Logger) {
        self.logger = logger
        server = HTTPServer(
            configuration: http,
            router: Router(OceanRoutes.make(readiness: readiness)),
            logger: logger)
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully and returns.
    public func run() async throws {
        let http = HTTPService(server: server, readiness: readiness, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: http, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

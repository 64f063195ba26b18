public import EventHTTP
public import Logging
public import ServiceLifecycle

/// The HTTP front door as a lifecycle service.
///
/// `run()` binds and serves, marks the service ready, and on graceful shutdown (SIGTERM/SIGINT via the
/// service group) marks it not ready, stops accepting, lets requests in flight finish within the
/// server's grace period, and returns.
public struct HTTPService: Service, CustomStringConvertible {
    /// What service-lifecycle logs.
    public var description: String { "HTTPService" }

    public let server: HTTPServer
    private let readiness: Readiness
    private let logger: Logger

    public init(server: HTTPServer, readiness: Readiness, logger: Logger) {
        self.server = server
        self.readiness = readiness
        self.logger = logger
    }

    public func run() async throws {
        // Before the server sizes its connection limit from it.
        if let limit = DescriptorLimit.raiseToHardLimit() {
            logger.debug("descriptor limit", metadata: ["process.max_open_files": "\(limit)"])
        }
        try await server.start()
        readiness.advance(to: .ready)
        // Returns when a graceful shutdown begins; throws when the task is cancelled. Either way: stop.
        try? await gracefulShutdown()
        readiness.advance(to: .stopping)
        logger.info("shutting down")
        await server.shutdown()
    }
}

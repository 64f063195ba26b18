/// Where the server listens and the limits it enforces.
public struct HTTPServerConfiguration: Sendable {
    /// The address to bind: an IPv4 or IPv6 literal or a host name (`0.0.0.0`, `127.0.0.1`, `::1`).
    public var host: String
    /// The TCP port; 0 picks a free one (see `HTTPServer.port`).
    public var port: Int
    /// Event-loop threads. One is the default; more share the port with `SO_REUSEPORT`.
    public var eventLoops: Int
    /// Largest request body a route accepts unless it sets its own (`Route.maxBodySize`).
    public var maxBodySize: Int
    /// Largest request header block.
    public var maxHeadersSize: Int
    /// Read and write timeout of a connection, and the keep-alive idle timeout, in seconds.
    public var connectionTimeoutSeconds: Int
    /// The listen backlog.
    public var backlog: Int
    /// How long a graceful shutdown waits for requests in flight before answering them 503.
    public var shutdownGracePeriod: Duration

    public init(
        host: String = "0.0.0.0",
        port: Int = 8000,
        eventLoops: Int = 1,
        maxBodySize: Int = 1 << 20,
        maxHeadersSize: Int = 16 << 10,
        connectionTimeoutSeconds: Int = 30,
        backlog: Int = 1024,
        shutdownGracePeriod: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.eventLoops = eventLoops
        self.maxBodySize = maxBodySize
        self.maxHeadersSize = maxHeadersSize
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.backlog = backlog
        self.shutdownGracePeriod = shutdownGracePeriod
    }

    /// Checks every value; the error names the offending setting.
    func validate() throws(HTTPServerError) {
        guard (0...65535).contains(port) else { throw .invalidConfiguration("port must be 0...65535, got \(port)") }
        guard (1...64).contains(eventLoops) else {
            throw .invalidConfiguration("event loops must be 1...64, got \(eventLoops)")
        }
        guard maxBodySize > 0 else { throw .invalidConfiguration("max body size must be positive, got \(maxBodySize)") }
        guard maxHeadersSize >= 1024 else {
            throw .invalidConfiguration("max headers size must be at least 1024, got \(maxHeadersSize)")
        }
        guard connectionTimeoutSeconds > 0 else {
            throw .invalidConfiguration("connection timeout must be positive, got \(connectionTimeoutSeconds)")
        }
        guard backlog > 0 else { throw .invalidConfiguration("backlog must be positive, got \(backlog)") }
        guard shutdownGracePeriod >= .zero else { throw .invalidConfiguration("shutdown grace period must not be negative") }
    }
}

/// Why the server could not start.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    private enum Code: String, Sendable {
        case invalidConfiguration = "invalid_configuration"
        case bindFailed = "bind_failed"
        case libeventFailed = "libevent_failed"
        case notRunning = "not_running"
    }

    private let code: Code
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    static func invalidConfiguration(_ message: String) -> HTTPServerError { .init(.invalidConfiguration, message) }
    static func bindFailed(_ message: String) -> HTTPServerError { .init(.bindFailed, message) }
    static func libeventFailed(_ message: String) -> HTTPServerError { .init(.libeventFailed, message) }
    static func notRunning(_ message: String) -> HTTPServerError { .init(.notRunning, message) }
}

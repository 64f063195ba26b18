#if canImport(Glibc)
import Glibc
#endif

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
    /// How long a request head may take to arrive, from its first byte, however slowly it trickles.
    public var headerTimeout: Duration
    /// How long a request body may take to arrive, from the end of its head.
    public var bodyTimeout: Duration
    /// Client connections open at once, over all loops; nil: the descriptor limit less a reserve for
    /// everything else the process opens. Beyond it the longest-idle connection is closed to make
    /// room, or, when every connection is busy, the new one is answered 503 and closed.
    public var maxConnections: Int?
    /// Request body bytes the server holds at once, over all connections, for requests not yet
    /// answered; a body that does not fit is answered 503 with `Retry-After`.
    public var maxBufferedBodyBytes: Int
    /// The longest request target (path and query) read, in bytes; longer ones get 414.
    public var maxTargetLength: Int

    public init(
        host: String = "0.0.0.0",
        port: Int = 8000,
        eventLoops: Int = 1,
        maxBodySize: Int = 1 << 20,
        maxHeadersSize: Int = 16 << 10,
        connectionTimeoutSeconds: Int = 30,
        backlog: Int = 1024,
        shutdownGracePeriod: Duration = .seconds(10),
        headerTimeout: Duration = .seconds(10),
        bodyTimeout: Duration = .seconds(30),
        maxConnections: Int? = nil,
        maxBufferedBodyBytes: Int = 64 << 20,
        maxTargetLength: Int = 8192
    ) {
        self.host = host
        self.port = port
        self.eventLoops = eventLoops
        self.maxBodySize = maxBodySize
        self.maxHeadersSize = maxHeadersSize
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.backlog = backlog
        self.shutdownGracePeriod = shutdownGracePeriod
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.maxConnections = maxConnections
        self.maxBufferedBodyBytes = maxBufferedBodyBytes
        self.maxTargetLength = maxTargetLength
    }

    /// `maxConnections`, or what the descriptor limit leaves: the soft `RLIMIT_NOFILE` less an eighth
    /// (at least 64) kept for the catalog, outgoing requests and the runtime.
    var effectiveMaxConnections: Int {
        if let maxConnections { return maxConnections }
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return 10_000 }
        let soft = Int(clamping: limit.rlim_cur)
        return max(8, soft - max(64, soft / 8))
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
        guard headerTimeout > .zero, bodyTimeout > .zero else {
            throw .invalidConfiguration("header and body timeouts must be positive")
        }
        if let maxConnections, maxConnections < eventLoops {
            throw .invalidConfiguration("max connections must be at least the number of event loops, got \(maxConnections)")
        }
        guard maxBufferedBodyBytes >= maxBodySize else {
            throw .invalidConfiguration("max buffered body bytes (\(maxBufferedBodyBytes)) must be at least the max body size (\(maxBodySize))")
        }
        guard maxTargetLength >= 256 else { throw .invalidConfiguration("max target length must be at least 256, got \(maxTargetLength)") }
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

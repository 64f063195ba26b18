import Essentials
import CLibevent
public import Logging
public import Metrics

/// An HTTP/1.1 server on libevent's evhttp.
///
/// Each event loop is one thread that owns its `event_base` and `evhttp`; every evhttp call happens
/// on that thread. Routes answer either at once on the loop thread (`RouteHandler.immediate`) or in a
/// Swift task whose reply is queued back to the loop (`RouteHandler.asynchronous`). Every request gets
/// exactly one reply: the handler's, a JSON error, or — if the server stops before the handler
/// returns — a 503.
///
/// ```swift
/// let server = HTTPServer(
///     configuration: .init(host: "127.0.0.1", port: 8000),
///     router: Router([Route(.get, "/hello", handler: .immediate { _ in HTTPResponse(status: .ok) })]),
///     logger: Logger(label: "http"))
/// try await server.start()
/// // ...
/// await server.shutdown()
/// ```
public final class HTTPServer: Sendable {
    private enum State {
        case idle
        case starting
        case running(loops: [EventLoop], port: Int)
        case stopping
        case stopped
    }

    public let configuration: HTTPServerConfiguration
    private let router: Router
    private let logger: Logger
    private let metrics: (any MetricsFactory)?
    private let state = Locked(State.idle)

    /// `metrics` receives `http_requests_total{method,route,status}` and
    /// `http_request_duration_seconds{route}`; at debug level each request is logged with its id.
    public init(configuration: HTTPServerConfiguration, router: Router, logger: Logger, metrics: (any MetricsFactory)? = nil) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.metrics = metrics
    }

    /// The bound port once started (useful with port 0), else nil.
    public var port: Int? {
        state.withLock { state in
            if case .running(_, let port) = state { return port }
            return nil
        }
    }

    /// Binds the listening sockets and starts the loop threads.
    public func start() async throws {
        try configuration.validate()
        let wasIdle = state.withLock { state -> Bool in
            guard case .idle = state else { return false }
            state = .starting
            return true
        }
        guard wasIdle else { throw HTTPServerError.notRunning("the server was already started") }
        let largestBody = router.largestBodySize(default: configuration.maxBodySize)
        guard largestBody <= configuration.maxBufferedBodyBytes else {
            state.withLock { $0 = .idle }
            throw HTTPServerError.invalidConfiguration(
                "a route accepts bodies of \(largestBody) bytes, more than the server may hold at once (\(configuration.maxBufferedBodyBytes))")
        }
        LibeventRuntime.prepare()
        let context = ServerContext(
            configuration: configuration, router: router, logger: logger,
            connectionBodyLimit: router.largestBodySize(default: configuration.maxBodySize), metrics: metrics,
            bodyBudget: BodyBudget(limit: configuration.maxBufferedBodyBytes))
        var loops: [EventLoop] = []
        var port = configuration.port
        do {
            for index in 0..<configuration.eventLoops {
                // The first loop may pick a free port; the others share it through SO_REUSEPORT.
                let (loop, boundPort) = try await EventLoop.start(index: index, port: port, server: context)
                loops.append(loop)
                port = boundPort
            }
        } catch {
            for loop in loops { await loop.stop() }
            state.withLock { $0 = .idle }
            throw error
        }
        let boundPort = port
        state.withLock { $0 = .running(loops: loops, port: boundPort) }
        logger.info("http server listening", metadata: [
            "http.host": "\(configuration.host)", "http.port": "\(boundPort)", "http.loops": "\(loops.count)",
        ])
    }

    /// Stops gracefully: stops accepting, lets requests in flight finish for up to the configured grace
    /// period, answers what is left with 503, then stops the loops. Safe to call more than once.
    public func shutdown() async {
        let loops: [EventLoop] = state.withLock { state in
            guard case .running(let loops, _) = state else { return [] }
            state = .stopping
            return loops
        }
        guard !loops.isEmpty else { return }
        for loop in loops {
            _ = await loop.submit { context in context.beginDraining() }
        }
        let grace = configuration.shutdownGracePeriod
        let drainedInTime = await withTaskGroup(of: Bool.self) { group in
            for loop in loops {
                group.addTask { await loop.waitUntilDrained(timeout: grace) }
            }
            return await group.reduce(true) { $0 && $1 }
        }
        if !drainedInTime {
            for loop in loops {
                _ = await loop.submit { context in context.abandonPending() }
            }
            // Let the 503s reach the clients before the connections are closed.
            for loop in loops { _ = await loop.waitUntilDrained(timeout: .seconds(1)) }
        }
        for loop in loops { await loop.stop() }
        state.withLock { $0 = .stopped }
        logger.info("http server stopped", metadata: ["http.drained": "\(drainedInTime)"])
    }
}

/// Process-wide libevent set-up, done once before the first `event_base` exists.
enum LibeventRuntime {
    private static let prepared: Void = {
        // A client that closes early must not kill the process.
        swift_ocean_ignore_sigpipe()
    }()

    static func prepare() {
        _ = prepared
    }
}

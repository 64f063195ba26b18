import CLibevent
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The state of one event loop. Lives on its loop thread only: created there, used only by libevent
/// callbacks and queued jobs (which run there), and freed there.
final class LoopContext {
    let loop: EventLoop
    let base: OpaquePointer
    let boundPort: Int
    let http: OpaquePointer
    private var boundSockets: [OpaquePointer] = []
    let server: ServerContext
    private let owner = pthread_self()

    /// Requests whose handler runs as a task, by request number, until their reply is sent.
    private var pending: [UInt64: PendingRequest] = [:]
    /// Connections with a request read whose reply has not been written yet (evhttp handles one
    /// request of a connection at a time): what a graceful shutdown waits for.
    private var unfinishedCount = 0
    private var nextRequestNumber: UInt64 = 0
    private var draining = false
    private var drainWaiter: (continuation: CheckedContinuation<Bool, Never>, timer: OpaquePointer)?
    /// The start of the request ids this loop makes (`requestID(from:number:)`).
    let requestIDPrefix: [UInt8]
    private var date = HTTPDate()

    private let observer: RequestObserver

    // Connections (LoopContext+Connections.swift).
    /// Every open client connection's guard, by its bufferevent.
    var guards: [OpaquePointer: ConnectionGuard] = [:]
    /// Guards of connections accepted whose evhttp connection is not known yet.
    var unadopted: [ConnectionGuard] = []
    /// Runs `adoptAccepted` once evhttp has set up the connections just accepted.
    var adoptEvent: OpaquePointer?
    /// A buffer the guards use for a moment on this thread (never holds anything between calls).
    let scratchBuffer: OpaquePointer
    /// Guards with a deadline running (a head or body being read).
    var watched: [ObjectIdentifier: ConnectionGuard] = [:]
    let router: Router
    let bodyBudget: BodyBudget
    let maxHeadLength: Int
    let maxTargetLength: Int
    let maxHeadersSize: Int
    /// Deadlines in nanoseconds.
    let headerTimeout: UInt64
    let bodyTimeout: UInt64
    /// This loop's share of the server's connection limit.
    let maxConnections: Int
    var listeners: [OpaquePointer] = []
    /// Sockets of closed connections whose client may still be sending a refused body, with when
    /// each started lingering: read and dropped for a while, so that closing does not reset the
    /// connection before the client read its reply.
    var lingering: [OpaquePointer: UInt64] = [:]
    var sweepTimer: OpaquePointer?
    var acceptPause: OpaquePointer?
    var acceptFailures = AcceptFailureLog()
    /// A descriptor kept open to be given up when accept fails for want of descriptors (so one
    /// waiting client can be accepted and closed instead of waiting in the backlog).
    var spareDescriptor: Int32 = -1

    private struct PendingRequest {
        let request: LoopBound<OpaquePointer>
        let requestID: String
        let started: RequestObserver.Started
    }

    init(loop: EventLoop, port: Int, server: ServerContext) throws(HTTPServerError) {
        self.loop = loop
        self.server = server
        router = server.router
        bodyBudget = server.bodyBudget
        let configuration = server.configuration
        maxTargetLength = configuration.maxTargetLength
        maxHeadersSize = configuration.maxHeadersSize
        maxHeadLength = configuration.maxHeadersSize + configuration.maxTargetLength + 32
        headerTimeout = LoopContext.nanoseconds(configuration.headerTimeout)
        bodyTimeout = LoopContext.nanoseconds(configuration.bodyTimeout)
        maxConnections = max(1, configuration.effectiveMaxConnections / configuration.eventLoops)
        requestIDPrefix = Array(LoopContext.makeRequestIDPrefix(loopIndex: loop.index).utf8)
        observer = RequestObserver(factory: server.metrics, logger: server.logger, routeCount: server.router.count)
        guard let scratchBuffer = evbuffer_new() else { throw .libeventFailed("evbuffer_new failed") }
        guard let base = event_base_new() else {
            evbuffer_free(scratchBuffer)
            throw .libeventFailed("event_base_new failed")
        }
        guard let http = evhttp_new(base) else {
            event_base_free(base)
            evbuffer_free(scratchBuffer)
            throw .libeventFailed("evhttp_new failed")
        }
        self.scratchBuffer = scratchBuffer
        self.base = base
        self.http = http
        // Backstops: the connection guard enforces the real limits before evhttp reads anything.
        evhttp_set_max_body_size(http, Int(server.connectionBodyLimit))
        evhttp_set_max_headers_size(http, Int(maxHeadLength + 1024))
        evhttp_set_timeout(http, Int32(configuration.connectionTimeoutSeconds))
        // Every method evhttp knows: the router, not evhttp, decides between 404, 405 and a handler.
        let allMethods = [EVHTTP_REQ_GET, EVHTTP_REQ_POST, EVHTTP_REQ_HEAD, EVHTTP_REQ_PUT, EVHTTP_REQ_DELETE,
                          EVHTTP_REQ_OPTIONS, EVHTTP_REQ_TRACE, EVHTTP_REQ_CONNECT, EVHTTP_REQ_PATCH]
            .reduce(UInt16(0)) { $0 | UInt16($1.rawValue) }
        evhttp_set_allowed_methods(http, allMethods)
        // Otherwise every reply without a Content-Type says text/html; charset=ISO-8859-1.
        evhttp_set_default_content_type(http, nil)
        do {
            let bound = try LoopContext.bind(http: http, base: base, port: port, configuration: configuration)
            boundPort = bound.port
            boundSockets = [bound.socket]
            listeners = [bound.listener]
        } catch {
            evhttp_free(http)
            event_base_free(base)
            evbuffer_free(scratchBuffer)
            throw error
        }
        // `self` is retained by the loop thread for as long as these callbacks can run.
        evhttp_set_gencb(http, { request, argument in
            let context = Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue()
            context.handle(request!)
        }, Unmanaged.passUnretained(self).toOpaque())
        startGuardingConnections()
    }

    /// Frees evhttp (closing every connection) and the base. Pending requests are answered first.
    func close() {
        assertOnLoop()
        abandonPending()
        if let waiter = drainWaiter {
            event_free(waiter.timer)
            drainWaiter = nil
            waiter.continuation.resume(returning: unfinishedCount == 0)
        }
        stopGuardingConnections()
        evhttp_free(http)
        closeLingeringSockets()
        event_base_free(base)
        evbuffer_free(scratchBuffer)
    }

    // MARK: Requests

    private func handle(_ request: OpaquePointer) {
        let number = nextRequestNumber
        nextRequestNumber &+= 1
        let connectionGuard = guardOf(request)
        if let connectionGuard { trackUntilWritten(request, on: connectionGuard) }

        let start = RequestObserver.now()
        let headers = readHeaders(request)
        let requestID = requestID(from: headers, number: number)
        // Routed on the target as sent (the guard checked it is origin-form): evhttp's parsed URI
        // would make "//x/route" the authority "x" and the path "/route".
        let target = evhttp_request_get_uri(request).map { String(cString: $0) } ?? "/"
        let questionMark = target.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = questionMark.map { String(target[..<$0]) } ?? target
        let query = questionMark.map { String(target[target.index(after: $0)...]) }
        let method = HTTPMethod(evhttp_request_get_command(request))
        var started = RequestObserver.Started(method: method, routeIndex: nil, route: "unmatched", path: path, startNanoseconds: start)
        if let refusal = connectionGuard?.nextRequestRouted() {
            send(.error(refusal), to: request, on: connectionGuard, requestID: requestID, started: started, closing: true)
            return
        }
        guard let method else {
            send(.error(HTTPError(.notImplemented, "this method is not implemented")), to: request, on: connectionGuard, requestID: requestID, started: started)
            return
        }
        if let query, !HTTPRequest.isWellFormedQuery(query) {
            send(.error(HTTPError(.badRequest, "the query has a malformed percent-encoding")), to: request, on: connectionGuard,
                 requestID: requestID, started: started)
            return
        }

        switch server.router.match(method, path: path) {
        case .notFound:
            send(.error(HTTPError(.notFound, "no route for \(method.rawValue) \(path.prefix(200))")), to: request, on: connectionGuard,
                 requestID: requestID, started: started)
        case .badPath:
            send(.error(HTTPError(.badRequest, "the path has a malformed percent-encoding")), to: request, on: connectionGuard,
                 requestID: requestID, started: started)
        case .methodNotAllowed(let allowed):
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            let error = HTTPError(.methodNotAllowed, "\(method.rawValue) is not allowed here; allowed: \(allow)",
                                  headers: ["Allow": allow])
            send(.error(error), to: request, on: connectionGuard, requestID: requestID, started: started)
        case .found(let route, let parameters):
            started = RequestObserver.Started(method: method, routeIndex: route.index, route: route.pattern, path: path, startNanoseconds: start)
            let limit = route.maxBodySize ?? server.configuration.maxBodySize
            let input = evhttp_request_get_input_buffer(request)
            let length = evbuffer_get_length(input)
            guard length <= limit else {
                let error = HTTPError(.payloadTooLarge, "the body is \(length) bytes; this route accepts at most \(limit)")
                send(.error(error), to: request, on: connectionGuard, requestID: requestID, started: started)
                return
            }
            // No body: the empty array as is (initializing one of capacity 0 writes its count into the
            // empty-array singleton every thread shares, which ThreadSanitizer rightly calls a race).
            let body: [UInt8] = length == 0 ? [] : [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                count = Int(evbuffer_remove(input, buffer.baseAddress, length))
            }
            let httpRequest = HTTPRequest(method: method, path: path, query: query, headers: headers, body: body,
                                          pathParameters: parameters, requestID: requestID)
            switch route.handler {
            case .immediate(let handler):
                send(handler(httpRequest), to: request, on: connectionGuard, requestID: requestID, started: started)
            case .asynchronous(let handler):
                pending[number] = PendingRequest(request: LoopBound(request, ownerThread: owner), requestID: requestID, started: started)
                let loop = self.loop
                let logger = server.logger
                Task {
                    let response = await LoopContext.run(handler, httpRequest, logger: logger)
                    loop.execute { context in context.complete(number, with: response) }
                }
            }
        }
    }

    private static func run(
        _ handler: @Sendable (HTTPRequest) async throws -> HTTPResponse, _ request: HTTPRequest, logger: Logger
    ) async -> HTTPResponse {
        do {
            return try await handler(request)
        } catch let error as HTTPError {
            return .error(error)
        } catch {
            var logger = logger
            logger[metadataKey: "request.id"] = "\(request.requestID)"
            logger.error("request handler failed", metadata: ["error": "\(error)"])
            return .error(HTTPError(.internalError, "the request failed inside the service; see its log for request id \(request.requestID)"))
        }
    }

    /// Sends a task's reply, unless the request was already answered (abandoned at shutdown).
    private func complete(_ number: UInt64, with response: HTTPResponse) {
        guard let entry = pending.removeValue(forKey: number) else { return }
        // The connection may have closed meanwhile: its guard is looked up again.
        let request = entry.request.value
        send(response, to: request, on: guardOf(request), requestID: entry.requestID, started: entry.started)
        checkDrained()
    }

    private func send(
        _ response: HTTPResponse, to request: OpaquePointer, on connectionGuard: ConnectionGuard?, requestID: String,
        started: RequestObserver.Started, closing: Bool = false
    ) {
        observer.answered(started, status: response.status.code, requestID: requestID)
        // Explicit `withCString`: the implicit String-to-pointer conversion copies small strings to
        // the heap, which was a measurable share of a health check's cost.
        let output = evhttp_request_get_output_headers(request)
        for field in response.headers {
            // evhttp refuses values with CR or LF (no header injection); such a field is left out.
            _ = field.name.withCString { name in field.value.withCString { value in evhttp_add_header(output, name, value) } }
        }
        _ = requestID.withCString { evhttp_add_header(output, "X-Request-ID", $0) }
        _ = date.withCurrent { evhttp_add_header(output, "Date", $0) }
        if draining || closing || connectionGuard?.closeAfterReply == true {
            evhttp_add_header(output, "Connection", "close")
        }
        if evhttp_request_get_command(request) == EVHTTP_REQ_HEAD {
            // The headers GET would send, Content-Length included, and no body (libevent 2.1 would
            // send the body it is given, and no Content-Length).
            _ = String(response.body.count).withCString { evhttp_add_header(output, "Content-Length", $0) }
        } else if !response.body.isEmpty {
            response.body.withUnsafeBytes { bytes in
                _ = evbuffer_add(evhttp_request_get_output_buffer(request), bytes.baseAddress, bytes.count)
            }
        }
        response.status.reasonPhrase.withCString { evhttp_send_reply(request, Int32(response.status.code), $0, nil) }
    }

    // MARK: In-flight tracking and graceful shutdown

    private func trackUntilWritten(_ request: OpaquePointer, on connectionGuard: ConnectionGuard) {
        // Adopted in the loop iteration that accepted it, before any read: this is a backstop.
        if connectionGuard.connection == nil { adoptAccepted() }
        if !connectionGuard.answering {
            connectionGuard.answering = true
            unfinishedCount += 1
        }
        // The reply was fully written. The guard outlives the request: it goes when its connection
        // closes, after evhttp is done with the connection's requests.
        evhttp_request_set_on_complete_cb(request, { _, argument in
            let connectionGuard = Unmanaged<ConnectionGuard>.fromOpaque(argument!).takeUnretainedValue()
            connectionGuard.replyWritten()
            connectionGuard.loop.finished(connectionGuard)
        }, Unmanaged.passUnretained(connectionGuard).toOpaque())
    }

    /// The request read from `connectionGuard`'s connection is answered, or the connection closed
    /// before it was.
    func finished(_ connectionGuard: ConnectionGuard) {
        guard connectionGuard.answering else { return }
        connectionGuard.answering = false
        unfinishedCount -= 1
        checkDrained()
    }

    /// Stops accepting connections; from now on every reply carries `Connection: close`.
    func beginDraining() {
        assertOnLoop()
        draining = true
        for socket in boundSockets {
            evhttp_del_accept_socket(http, socket)
        }
        boundSockets.removeAll()
    }

    /// Answers every request still waiting for its handler with 503 `shutting_down`.
    func abandonPending() {
        assertOnLoop()
        let abandoned = pending
        pending.removeAll()
        for (_, entry) in abandoned {
            let error = HTTPError(.shuttingDown, "the service stopped before this request finished")
            let request = entry.request.value
            send(.error(error), to: request, on: guardOf(request), requestID: entry.requestID, started: entry.started)
        }
        if !abandoned.isEmpty {
            server.logger.warning("answered requests still in flight at shutdown", metadata: ["count": "\(abandoned.count)"])
        }
    }

    func addDrainWaiter(_ continuation: CheckedContinuation<Bool, Never>, timeout: Duration) {
        assertOnLoop()
        if isDrained || drainWaiter != nil {
            continuation.resume(returning: isDrained)
            return
        }
        guard let timer = swift_ocean_timer_new(base, { _, _, argument in
            let context = Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue()
            context.resumeDrainWaiter(drained: false)
        }, Unmanaged.passUnretained(self).toOpaque()) else {
            continuation.resume(returning: isDrained)
            return
        }
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        swift_ocean_timer_add_ms(timer, Int(max(0, milliseconds)))
        drainWaiter = (continuation, timer)
    }

    func breakLoop() {
        assertOnLoop()
        event_base_loopbreak(base)
    }

    var isDraining: Bool { draining }

    private var isDrained: Bool { pending.isEmpty && unfinishedCount == 0 }

    func checkDrained() {
        if draining, drainWaiter != nil, isDrained {
            resumeDrainWaiter(drained: true)
        }
    }

    private func resumeDrainWaiter(drained: Bool) {
        guard let waiter = drainWaiter else { return }
        drainWaiter = nil
        event_free(waiter.timer)
        waiter.continuation.resume(returning: drained)
    }

    private func assertOnLoop() {
        assert(pthread_equal(pthread_self(), owner) != 0, "loop state used off its loop thread")
    }
}

extension HTTPMethod {
    init?(_ command: evhttp_cmd_type) {
        switch command {
        case EVHTTP_REQ_GET: self = .get
        case EVHTTP_REQ_HEAD: self = .head
        case EVHTTP_REQ_POST: self = .post
        case EVHTTP_REQ_PUT: self = .put
        case EVHTTP_REQ_PATCH: self = .patch
        case EVHTTP_REQ_DELETE: self = .delete
        case EVHTTP_REQ_OPTIONS: self = .options
        case EVHTTP_REQ_TRACE: self = .trace
        case EVHTTP_REQ_CONNECT: self = .connect
        default: return nil
        }
    }
}

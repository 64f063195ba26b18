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
    /// Per connection, the request read from it whose reply has not been written yet (evhttp handles
    /// one request of a connection at a time). Their count is what a graceful shutdown waits for.
    private var unfinishedByConnection: [OpaquePointer: UInt64] = [:]
    private var nextRequestNumber: UInt64 = 0
    private var draining = false
    private var drainWaiter: (continuation: CheckedContinuation<Bool, Never>, timer: OpaquePointer)?
    private let requestIDPrefix: String

    private let observer: RequestObserver

    // Connections (LoopContext+Connections.swift).
    /// Every open client connection's guard, by its filter bufferevent.
    var guards: [OpaquePointer: ConnectionGuard] = [:]
    /// Guards of connections this loop closed that libevent has not freed yet.
    var closingCount = 0
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
    /// Sockets of closed connections still writing their last reply.
    var lingering: Set<OpaquePointer> = []
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
        requestIDPrefix = LoopContext.makeRequestIDPrefix(loopIndex: loop.index)
        observer = RequestObserver(factory: server.metrics, logger: server.logger, routeCount: server.router.count)
        guard let base = event_base_new() else { throw .libeventFailed("event_base_new failed") }
        guard let http = evhttp_new(base) else {
            event_base_free(base)
            throw .libeventFailed("evhttp_new failed")
        }
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
            waiter.continuation.resume(returning: unfinishedByConnection.isEmpty)
        }
        stopGuardingConnections()
        evhttp_free(http)
        closeLingeringSockets()
        event_base_free(base)
    }

    // MARK: Binding

    private static func bind(
        http: OpaquePointer, base: OpaquePointer, port: Int, configuration: HTTPServerConfiguration
    ) throws(HTTPServerError) -> (port: Int, socket: OpaquePointer, listener: OpaquePointer) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(configuration.host, String(port), &hints, &results)
        guard status == 0, let first = results else {
            throw .bindFailed("cannot resolve host \(configuration.host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(results) }
        var flags = UInt32(LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE)
        if configuration.eventLoops > 1 { flags |= UInt32(LEV_OPT_REUSEABLE_PORT) }
        guard let listener = evconnlistener_new_bind(
            base, nil, nil, flags, Int32(configuration.backlog), first.pointee.ai_addr, Int32(first.pointee.ai_addrlen))
        else {
            let reason = String(cString: strerror(errno))
            throw .bindFailed("cannot listen on \(configuration.host):\(port): \(reason)")
        }
        guard let bound = evhttp_bind_listener(http, listener) else {
            evconnlistener_free(listener)
            throw .bindFailed("evhttp_bind_listener failed for \(configuration.host):\(port)")
        }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(evconnlistener_get_fd(listener), $0, &length)
            }
        }
        guard named == 0 else { throw .bindFailed("getsockname failed: \(String(cString: strerror(errno)))") }
        let family = Int32(address.ss_family)
        let boundPort = withUnsafePointer(to: &address) { pointer -> Int in
            if family == AF_INET6 {
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            } else {
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        }
        return (boundPort, bound, listener)
    }

    // MARK: Requests

    private func handle(_ request: OpaquePointer) {
        let number = nextRequestNumber
        nextRequestNumber &+= 1
        trackUntilWritten(request, number: number)

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
        if let refusal = guardOf(request)?.nextRequestRouted() {
            send(.error(refusal), to: request, requestID: requestID, started: started, closing: true)
            return
        }
        guard let method else {
            send(.error(HTTPError(.notImplemented, "this method is not implemented")), to: request, requestID: requestID, started: started)
            return
        }
        if let query, !HTTPRequest.isWellFormedQuery(query) {
            send(.error(HTTPError(.badRequest, "the query has a malformed percent-encoding")), to: request,
                 requestID: requestID, started: started)
            return
        }

        switch server.router.match(method, path: path) {
        case .notFound:
            send(.error(HTTPError(.notFound, "no route for \(method.rawValue) \(path.prefix(200))")), to: request,
                 requestID: requestID, started: started)
        case .badPath:
            send(.error(HTTPError(.badRequest, "the path has a malformed percent-encoding")), to: request,
                 requestID: requestID, started: started)
        case .methodNotAllowed(let allowed):
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            let error = HTTPError(.methodNotAllowed, "\(method.rawValue) is not allowed here; allowed: \(allow)",
                                  headers: ["Allow": allow])
            send(.error(error), to: request, requestID: requestID, started: started)
        case .found(let route, let parameters):
            started = RequestObserver.Started(method: method, routeIndex: route.index, route: route.pattern, path: path, startNanoseconds: start)
            let limit = route.maxBodySize ?? server.configuration.maxBodySize
            let input = evhttp_request_get_input_buffer(request)
            let length = evbuffer_get_length(input)
            guard length <= limit else {
                let error = HTTPError(.payloadTooLarge, "the body is \(length) bytes; this route accepts at most \(limit)")
                send(.error(error), to: request, requestID: requestID, started: started)
                return
            }
            let body = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                count = length == 0 ? 0 : Int(evbuffer_remove(input, buffer.baseAddress, length))
            }
            let httpRequest = HTTPRequest(method: method, path: path, query: query, headers: headers, body: body,
                                          pathParameters: parameters, requestID: requestID)
            switch route.handler {
            case .immediate(let handler):
                send(handler(httpRequest), to: request, requestID: requestID, started: started)
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
        send(response, to: entry.request.value, requestID: entry.requestID, started: entry.started)
        checkDrained()
    }

    private func send(
        _ response: HTTPResponse, to request: OpaquePointer, requestID: String, started: RequestObserver.Started, closing: Bool = false
    ) {
        observer.answered(started, status: response.status.code, requestID: requestID)
        let connectionGuard = guardOf(request)
        // Explicit `withCString`: the implicit String-to-pointer conversion copies small strings to
        // the heap, which was a measurable share of a health check's cost.
        let output = evhttp_request_get_output_headers(request)
        for field in response.headers {
            // evhttp refuses values with CR or LF (no header injection); such a field is left out.
            _ = field.name.withCString { name in field.value.withCString { value in evhttp_add_header(output, name, value) } }
        }
        _ = requestID.withCString { evhttp_add_header(output, "X-Request-ID", $0) }
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
        // Read before the reply is sent: sending may free the request (its connection is gone).
        let connection = evhttp_request_get_connection(request)
        response.status.reasonPhrase.withCString { evhttp_send_reply(request, Int32(response.status.code), $0, nil) }
        // evhttp queued the reply on the connection's filter before enabling its writes, and a filter
        // passes queued output on only when more is added: pass it on now.
        if let connection, let filter = evhttp_connection_get_bufferevent(connection) {
            bufferevent_flush(filter, Int16(EV_WRITE), BEV_NORMAL)
        }
    }

    private func readHeaders(_ request: OpaquePointer) -> HTTPHeaders {
        var headers = HTTPHeaders()
        var field = swift_ocean_headers_first(evhttp_request_get_input_headers(request))
        while let current = field {
            headers.add(String(cString: current.pointee.key), String(cString: current.pointee.value))
            field = swift_ocean_headers_next(current)
        }
        return headers
    }

    /// The client's `X-Request-ID` when it is 1-128 visible ASCII characters, else a new one.
    private func requestID(from headers: HTTPHeaders, number: UInt64) -> String {
        if let given = headers["X-Request-ID"], !given.isEmpty, given.utf8.count <= 128,
           given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        return requestIDPrefix + String(number, radix: 16)
    }

    /// Six random hex digits and the loop index: with the counter, ids stay within Swift's 15-byte
    /// small-string form (no allocation) for the first million requests of a loop.
    private static func makeRequestIDPrefix(loopIndex: Int) -> String {
        let hex = String(UInt32.random(in: 0...0xFF_FFFF), radix: 16)
        return String(repeating: "0", count: 6 - hex.count) + hex + "-\(loopIndex)-"
    }

    // MARK: In-flight tracking and graceful shutdown

    private func trackUntilWritten(_ request: OpaquePointer, number: UInt64) {
        guard let connection = evhttp_request_get_connection(request) else { return }
        unfinishedByConnection[connection] = number
        let argument = Unmanaged.passUnretained(self).toOpaque()
        // The reply was fully written.
        evhttp_request_set_on_complete_cb(request, { request, argument in
            let context = Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue()
            if let connection = evhttp_request_get_connection(request) {
                if let bufferevent = evhttp_connection_get_bufferevent(connection) {
                    context.guards[bufferevent]?.replyWritten()
                }
                context.finished(connection)
            }
        }, argument)
        // The connection closed (client gone, timeout, write error) before the reply was written.
        evhttp_connection_set_closecb(connection, { connection, argument in
            let context = Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue()
            context.connectionClosing(connection!)
            context.finished(connection!)
        }, argument)
    }

    private func finished(_ connection: OpaquePointer) {
        if unfinishedByConnection.removeValue(forKey: connection) != nil {
            checkDrained()
        }
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
            send(.error(error), to: entry.request.value, requestID: entry.requestID, started: entry.started)
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

    private var isDrained: Bool { pending.isEmpty && unfinishedByConnection.isEmpty && lingering.isEmpty }

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

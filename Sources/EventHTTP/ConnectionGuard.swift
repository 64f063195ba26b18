import CLibevent

#if canImport(Glibc)
import Glibc
#endif

/// Stands between one client connection and evhttp: every byte the client sends is checked here
/// before evhttp parses it, and evhttp is handed only whole requests that passed the checks.
///
/// The guard watches the input buffer of the connection's own bufferevent (an evbuffer callback,
/// which libevent runs right after a read and before evhttp's read callback). A read that brings
/// exactly one whole request with a checked head, the common case, stays where it is; anything else
/// (a partial head, a body still arriving, a chunked body, a refused request) is taken out of the
/// buffer, and put back only once it is whole and checked.
///
/// What it enforces, before evhttp buffers or parses anything:
/// - the request head is read strictly (`RequestHead`: no smuggling, no `//authority` paths);
/// - a body over its route's limit is refused as soon as `Content-Length` (or the chunked total)
///   says so, a route that takes no body refuses one, and a request for no route does not get its
///   body read;
/// - body bytes held for requests not yet answered count against the server-wide `BodyBudget`;
/// - the head must arrive within the header deadline and the body within the body deadline,
///   however slowly it trickles (evhttp's own timeout restarts at every byte).
///
/// A refused request is answered in order: evhttp is handed a placeholder request, and when the
/// loop routes it, the refusal (`rejection`) is sent instead, with `Connection: close`. Bytes after a
/// refusal are read and dropped until evhttp closes the connection.
///
/// Lives on its loop thread only, like everything evhttp touches.
///
/// (Over 400 lines, in one file: every step of the state machine reads and changes the guard's
/// private state, which split across files would have to be visible to the whole module.)
final class ConnectionGuard {
    private enum State {
        /// Waiting for (the rest of) a request head; `scanned` bytes already searched for its end.
        case head(scanned: Int)
        /// Holding a body until `remaining` more bytes arrive.
        case body(remaining: Int)
        case chunked(ChunkedBodyReader)
        /// A request was refused: everything after it is dropped.
        case refused
    }

    /// The connection's bufferevent, evhttp's (the key the loop finds this guard by).
    let bufferevent: OpaquePointer
    /// evhttp's connection, known once evhttp finished setting it up (`LoopContext.adopt`).
    var connection: OpaquePointer?
    /// The callback that shows this guard each read (removed when the connection closes).
    var inputCallback: OpaquePointer?
    /// The loop closed this connection.
    var isClosing = false
    /// A request of this connection was routed and its reply is not written yet.
    var answering = false
    /// Unowned and unchecked: the loop context frees every connection (and so every guard) before
    /// it goes, and this is read on every request.
    unowned(unsafe) let loop: LoopContext
    private var state = State.head(scanned: 0)
    /// Bytes read and not checked yet (the start of a head that did not arrive whole).
    private let unchecked: OpaquePointer
    /// The request being held until it is whole: its head, then its body.
    private let held: OpaquePointer
    /// The guard is changing the input buffer itself (its own changes are not reads to check).
    private var rewriting = false
    /// The head of the chunked request being held (its body is held de-chunked).
    private var chunkedHead: [UInt8] = []
    /// Budget bytes reserved by the request being held.
    private var heldReservation = 0
    /// The limit of the held request's route.
    private var heldLimit = 0
    /// Requests handed to evhttp and not yet routed by the loop.
    private(set) var handedOver = 0
    /// Requests handed to evhttp that are not answered yet, with their reservations.
    private var unanswered: [Int] = []
    /// The refusal to send when the loop routes the placeholder request.
    private(set) var rejection: HTTPError?
    /// The placeholder request was handed to evhttp (once per connection: nothing follows it).
    private var placeholderSent = false
    /// When the current request's deadline passes (monotonic nanoseconds); nil while none is due.
    private(set) var deadline: UInt64?
    /// When this connection last started a request or was opened (for choosing whom to evict).
    private(set) var lastActive: UInt64
    /// Close once the reply in progress is written (a deadline passed while a handler ran).
    private(set) var closeAfterReply = false

    init(loop: LoopContext, bufferevent: OpaquePointer, now: UInt64) {
        self.loop = loop
        self.bufferevent = bufferevent
        unchecked = evbuffer_new()
        held = evbuffer_new()
        lastActive = now
    }

    deinit {
        evbuffer_free(unchecked)
        evbuffer_free(held)
    }

    /// A request was refused on this connection (the client may still be sending its body).
    var refusedRequest: Bool { rejection != nil }

    /// The connection went away: give back whatever it still held.
    func released() {
        loop.bodyBudget.release(heldReservation + unanswered.reduce(0, +))
        heldReservation = 0
        unanswered.removeAll()
        evbuffer_drain(held, evbuffer_get_length(held))
        evbuffer_drain(unchecked, evbuffer_get_length(unchecked))
    }

    /// Whether evhttp or a handler is working on a request of this connection.
    var isBusy: Bool { !unanswered.isEmpty }

    /// Refuses new work at once (too many connections): the first request gets `error`.
    func refuseEverything(_ error: HTTPError, now: UInt64) {
        deadline = now + 1_000_000_000
        rejection = error
        state = .refused
    }

    // MARK: Bytes in

    /// A read added `added` bytes to the end of `input`, the buffer evhttp parses; everything before
    /// them was checked already. Leaves in `input` only whole, checked requests.
    func received(_ input: OpaquePointer, added: Int, now: UInt64) {
        guard !rewriting else { return }
        rewriting = true
        defer { rewriting = false }
        let length = evbuffer_get_length(input)
        let checked = length - added
        if checked == 0 && approveInPlace(input, length: length, now: now) { return }
        if checked > 0 {
            // Requests evhttp has not parsed yet (it is answering an earlier one): they stay first.
            let parked = loop.scratchBuffer
            evbuffer_remove_buffer(input, parked, checked)
            evbuffer_add_buffer(unchecked, input)
            evbuffer_add_buffer(input, parked)
        } else {
            evbuffer_add_buffer(unchecked, input)
        }
        pass(from: unchecked, to: input, now: now)
    }

    /// The common case: `input` holds exactly one whole request whose head passes, and nothing else.
    /// Approves it where it is (nothing moves); false when the general path must look at it.
    private func approveInPlace(_ input: OpaquePointer, length: Int, now: UInt64) -> Bool {
        guard case .head(scanned: 0) = state, evbuffer_get_length(held) == 0, evbuffer_get_length(unchecked) == 0 else {
            return false
        }
        let window = min(length, loop.maxHeadLength + 1)
        guard let start = evbuffer_pullup(input, window) else { return false }
        let bytes = UnsafeRawBufferPointer(start: start, count: window)
        guard bytes[0] != UInt8(ascii: "\r"), bytes[0] != UInt8(ascii: "\n"),
              let end = RequestHead.endOfHead(in: bytes, from: -2) else { return false }
        let headBytes = UnsafeRawBufferPointer(rebasing: bytes[..<end])
        guard let head = try? RequestHead.parse(headBytes, maxTargetLength: loop.maxTargetLength, maxHeadersSize: loop.maxHeadersSize)
        else { return false }
        switch head.body {
        case .none: guard end == length else { return false }
        case .length(let bodyLength): guard bodyLength == length - end else { return false }
        case .chunked: return false
        }
        lastActive = now
        if let error = admit(head, headBytes) {
            evbuffer_drain(input, length)
            refuse(error, destination: input)
            return true
        }
        approve()
        return true
    }

    /// Moves whole, checked requests from `source` (bytes not checked yet) to `destination` (what
    /// evhttp reads). Returns whether anything reached evhttp.
    @discardableResult
    private func pass(from source: OpaquePointer, to destination: OpaquePointer, now: UInt64) -> Bool {
        var handed = false
        loop: while evbuffer_get_length(source) > 0 {
            switch state {
            case .refused:
                if rejection != nil && handedOver == 0 && unanswered.isEmpty && !placeholderSent {
                    handPlaceholder(to: destination)
                    handed = true
                }
                evbuffer_drain(source, evbuffer_get_length(source))
                break loop
            case .head(let scanned):
                if scanned == 0 && evbuffer_get_length(held) == 0 {
                    skipLeadingEmptyLines(source)
                    guard evbuffer_get_length(source) > 0 else { break loop }
                    lastActive = now
                }
                let available = evbuffer_get_length(source)
                let window = min(available, loop.maxHeadLength + 1)
                guard let start = evbuffer_pullup(source, window) else { break loop }
                let bytes = UnsafeRawBufferPointer(start: start, count: window)
                guard let end = RequestHead.endOfHead(in: bytes, from: scanned - 2) else {
                    if window > loop.maxHeadLength {
                        refuse(HTTPError(.headersTooLarge, "the request head is larger than \(loop.maxHeadLength) bytes"),
                               destination: destination)
                        handed = true
                        continue loop
                    }
                    state = .head(scanned: window)
                    // Only a head that did not arrive whole is watched (the common case costs nothing);
                    // its deadline counts from its first byte.
                    if deadline == nil { watch(until: lastActive + loop.headerTimeout) }
                    break loop
                }
                let headBytes = UnsafeRawBufferPointer(rebasing: bytes[..<end])
                let head: RequestHead
                do throws(HTTPError) {
                    head = try RequestHead.parse(headBytes, maxTargetLength: loop.maxTargetLength, maxHeadersSize: loop.maxHeadersSize)
                    if let error = admit(head, headBytes) { throw error }
                } catch {
                    refuse(error, destination: destination)
                    handed = true
                    continue loop
                }
                if head.body == .none && evbuffer_get_length(held) == 0 {
                    // The common case, a request without a body: straight through.
                    evbuffer_remove_buffer(source, destination, end)
                    handOver(to: destination)
                    handed = true
                    continue loop
                }
                if head.body == .chunked {
                    chunkedHead = [UInt8](unsafeUninitializedCapacity: end) { buffer, count in
                        count = Int(evbuffer_remove(source, buffer.baseAddress, end))
                    }
                } else {
                    evbuffer_remove_buffer(source, held, end)
                }
                switch head.body {
                case .none:
                    handOver(to: destination)
                    handed = true
                case .length(let length):
                    if head.expectsContinue { sendContinue() }
                    state = .body(remaining: length)
                    watch(until: now + loop.bodyTimeout)
                case .chunked:
                    if head.expectsContinue { sendContinue() }
                    state = .chunked(ChunkedBodyReader())
                    watch(until: now + loop.bodyTimeout)
                }
            case .body(let remaining):
                let taken = min(remaining, evbuffer_get_length(source))
                evbuffer_remove_buffer(source, held, taken)
                if taken == remaining {
                    handOver(to: destination)
                    handed = true
                } else {
                    state = .body(remaining: remaining - taken)
                }
            case .chunked(var reader):
                switch readChunks(from: source, with: &reader) {
                case .failure(let error):
                    refuse(error, destination: destination)
                    handed = true
                case .success:
                    if reader.isDone {
                        handOver(to: destination)
                        handed = true
                    } else {
                        state = .chunked(reader)
                    }
                }
            }
        }
        return handed
    }

    /// Checks a parsed head against the routes, the limits and the budget; the refusal, if any.
    private func admit(_ head: RequestHead, _ bytes: UnsafeRawBufferPointer) -> HTTPError? {
        guard let method = head.method else {
            let token = head.methodToken(in: bytes).prefix(32)
            let allowed = loop.router.allowedMethods(path: head.path(in: bytes))
            if allowed.isEmpty {
                return HTTPError(.notImplemented, "the method \(token) is not implemented")
            }
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            return HTTPError(.methodNotAllowed, "\(token) is not allowed here; allowed: \(allow)", headers: ["Allow": allow])
        }
        let declared: Int
        switch head.body {
        case .none: return nil
        case .length(let length): declared = length
        case .chunked: declared = 0
        }
        // Only requests with a body are routed here: the loop routes every request anyway.
        let path = head.path(in: bytes)
        switch loop.router.match(method, path: path) {
        case .notFound:
            return HTTPError(.notFound, "no route for \(method.rawValue) \(path.prefix(200))")
        case .badPath:
            return HTTPError(.badRequest, "the path has a malformed percent-encoding")
        case .methodNotAllowed(let allowed):
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            return HTTPError(.methodNotAllowed, "\(method.rawValue) is not allowed here; allowed: \(allow)", headers: ["Allow": allow])
        case .found(let route, _):
            heldLimit = loop.bodyLimit(of: route)
        }
        if declared > heldLimit { return tooLarge(declared) }
        if declared > 0 {
            guard loop.bodyBudget.reserve(declared) else { return budgetExhausted() }
            heldReservation = declared
        }
        return nil
    }

    private func tooLarge(_ size: Int) -> HTTPError {
        if heldLimit == 0 { return HTTPError(.payloadTooLarge, "this route takes no request body") }
        return HTTPError(.payloadTooLarge, "the body is \(size) bytes; this route accepts at most \(heldLimit)")
    }

    private func budgetExhausted() -> HTTPError {
        HTTPError(.unavailable, "the server is holding as many request bodies as it may; retry shortly",
                  headers: ["Retry-After": "1"])
    }

    /// Feeds the chunked body's framing to `reader`, putting its data into `held` and reserving it
    /// as it arrives.
    private func readChunks(from source: OpaquePointer, with reader: inout ChunkedBodyReader) -> Result<Void, HTTPError> {
        let held = self.held
        while evbuffer_get_length(source) > 0 && !reader.isDone {
            var segments = [iovec](repeating: iovec(), count: 8)
            let count = min(Int(evbuffer_peek(source, -1, nil, &segments, 8)), 8)
            var consumed = 0
            for segment in segments.prefix(count) where !reader.isDone {
                let before = reader.dataLength
                let result = reader.consume(UnsafeRawBufferPointer(start: segment.iov_base, count: segment.iov_len)) { data in
                    _ = evbuffer_add(held, data.baseAddress, data.count)
                }
                switch result {
                case .failure(let error):
                    return .failure(error)
                case .success(let taken):
                    consumed += taken
                    let added = reader.dataLength - before
                    if reader.dataLength > heldLimit { return .failure(tooLarge(reader.dataLength)) }
                    if added > 0 {
                        guard loop.bodyBudget.reserve(added) else { return .failure(budgetExhausted()) }
                        heldReservation += added
                    }
                }
            }
            guard consumed > 0 else { break }
            evbuffer_drain(source, consumed)
        }
        return .success(())
    }

    private func skipLeadingEmptyLines(_ source: OpaquePointer) {
        while evbuffer_get_length(source) > 0, let first = evbuffer_pullup(source, 1) {
            let byte = first.pointee
            guard byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") else { return }
            evbuffer_drain(source, 1)
        }
    }

    /// The held request is whole and checked: evhttp may have it.
    private func handOver(to destination: OpaquePointer) {
        defer {
            if deadline != nil {
                deadline = nil
                loop.unwatch(self)
            }
        }
        if !chunkedHead.isEmpty {
            let head = ChunkedBodyReader.reframed(chunkedHead, length: evbuffer_get_length(held))
            _ = head.withUnsafeBytes { evbuffer_add(destination, $0.baseAddress, $0.count) }
            chunkedHead = []
        }
        evbuffer_add_buffer(destination, held)
        approve()
        state = .head(scanned: 0)
    }

    /// One more request is evhttp's to parse.
    private func approve() {
        handedOver += 1
        unanswered.append(heldReservation)
        heldReservation = 0
    }

    /// Refuses the request being read: evhttp gets a placeholder in its place, after the requests
    /// it already has, so the refusal is answered in order.
    private func refuse(_ error: HTTPError, destination: OpaquePointer) {
        loop.bodyBudget.release(heldReservation)
        heldReservation = 0
        evbuffer_drain(held, evbuffer_get_length(held))
        chunkedHead = []
        rejection = error
        state = .refused
        deadline = nil
        loop.unwatch(self)
        handPlaceholder(to: destination)
    }

    private func handPlaceholder(to destination: OpaquePointer) {
        guard !placeholderSent else { return }
        placeholderSent = true
        _ = ConnectionGuard.placeholder.withUnsafeBytes { evbuffer_add(destination, $0.baseAddress, $0.count) }
        approve()
    }

    /// What evhttp parses in place of a refused request: nothing a client sends reaches a handler
    /// this way, because the loop answers the refusal instead of routing it.
    private static let placeholder = Array("GET / HTTP/1.1\r\nHost: refused\r\n\r\n".utf8)

    /// `100 Continue`, written straight to the socket (evhttp does not see this request's head yet,
    /// and its writes are off while it reads): only when no earlier reply is due on this connection
    /// (else the client sends its body after its own wait, as RFC 9110 lets it). A socket that takes
    /// fewer than these few bytes gets none of the rest: the client stops waiting soon enough.
    private func sendContinue() {
        guard unanswered.isEmpty, evbuffer_get_length(bufferevent_get_output(bufferevent)) == 0 else { return }
        let descriptor = bufferevent_getfd(bufferevent)
        guard descriptor >= 0 else { return }
        _ = ConnectionGuard.continueLine.withUnsafeBytes {
            send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        }
    }

    private static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private func watch(until time: UInt64) {
        deadline = time
        loop.watch(self)
    }

    // MARK: Requests routed and answered

    /// The loop routes the next request evhttp read from this connection: the refusal to send in
    /// its place, if it is the placeholder.
    func nextRequestRouted() -> HTTPError? {
        handedOver -= 1
        return handedOver == 0 ? rejection : nil
    }

    /// The oldest unanswered request is being answered.
    func replyWritten() {
        guard !unanswered.isEmpty else { return }
        loop.bodyBudget.release(unanswered.removeFirst())
    }

    /// A deadline passed: close now when no handler works for this connection, else after its reply.
    func deadlinePassed() -> Bool {
        deadline = nil
        if isBusy {
            closeAfterReply = true
            return false
        }
        return true
    }
}

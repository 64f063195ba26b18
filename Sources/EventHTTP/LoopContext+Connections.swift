import CLibevent
import Essentials
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Client connections: each one's guard (`ConnectionGuard`), the connection limit, the deadlines
/// of slow heads and bodies, and what happens when accept runs out of descriptors.
extension LoopContext {
    /// How often deadlines are checked.
    private static let sweepMilliseconds = 250
    /// How long the listener pauses after accept failed for want of descriptors.
    private static let acceptPauseMilliseconds = 100

    func startGuardingConnections() {
        let argument = Unmanaged.passUnretained(self).toOpaque()
        evhttp_set_bevcb(http, { base, argument in
            let context = Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue()
            return context.makeGuardedConnection(base: base!)
        }, argument)
        spareDescriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
        for listener in listeners {
            evconnlistener_set_error_cb(listener) { listener, _ in
                guard let listener, let context = LoopContext.owning(listener) else { return }
                context.acceptFailed(listener)
            }
            LoopContext.listenerOwners.withLock { $0[UInt(bitPattern: listener)] = UInt(bitPattern: argument) }
        }
        sweepTimer = swift_ocean_periodic_new(base, { _, _, argument in
            let context = Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue()
            context.sweepDeadlines()
        }, argument)
        if let sweepTimer { swift_ocean_timer_add_ms(sweepTimer, LoopContext.sweepMilliseconds) }
    }

    func stopGuardingConnections() {
        for listener in listeners {
            LoopContext.listenerOwners.withLock { $0[UInt(bitPattern: listener)] = nil }
        }
        if let sweepTimer { event_free(sweepTimer) }
        sweepTimer = nil
        if let acceptPause { event_free(acceptPause) }
        acceptPause = nil
        if spareDescriptor >= 0 { Glibc.close(spareDescriptor) }
        spareDescriptor = -1
    }

    /// After evhttp is freed: sockets still writing their last reply write what the kernel takes
    /// now and are closed.
    func closeLingeringSockets() {
        for socket in lingering {
            let descriptor = bufferevent_getfd(socket)
            if descriptor >= 0 { evbuffer_write(bufferevent_get_output(socket), descriptor) }
            stopLingering(socket)
        }
    }

    /// The guard of the connection `request` came on, if it still has one.
    func guardOf(_ request: OpaquePointer) -> ConnectionGuard? {
        guard let connection = evhttp_request_get_connection(request),
              let bufferevent = evhttp_connection_get_bufferevent(connection) else { return nil }
        return guards[bufferevent]
    }

    /// The body limit of `route` on this server.
    func bodyLimit(of route: Route) -> Int {
        route.bodyLimit(default: server.configuration.maxBodySize)
    }

    func watch(_ connectionGuard: ConnectionGuard) {
        watched[ObjectIdentifier(connectionGuard)] = connectionGuard
    }

    func unwatch(_ connectionGuard: ConnectionGuard) {
        watched[ObjectIdentifier(connectionGuard)] = nil
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let components = duration.components
        return UInt64(max(0, components.seconds)) * 1_000_000_000 + UInt64(max(0, components.attoseconds / 1_000_000_000))
    }

    // MARK: New connections

    /// evhttp asks for the bufferevent of a connection it accepted: a filter over the socket's, with
    /// a guard as its input filter. At the connection limit the longest-idle connection is closed to
    /// make room; when none is idle, the new connection is answered 503 and closed.
    private func makeGuardedConnection(base: OpaquePointer) -> OpaquePointer? {
        let now = RequestObserver.now()
        // Closed connections are freed later by libevent (its finalizers are deferred): not counted.
        let hasRoom = guards.count - closingCount < maxConnections || evictIdlest()
        // Neither closes the descriptor when freed: evhttp closes it (see `forget`).
        guard let socket = bufferevent_socket_new(base, -1, 0) else { return nil }
        let connectionGuard = ConnectionGuard(loop: self, now: now)
        let context = Unmanaged.passRetained(connectionGuard).toOpaque()
        let filter = bufferevent_filter_new(socket, { source, destination, _, _, context in
            let connectionGuard = Unmanaged<ConnectionGuard>.fromOpaque(context!).takeUnretainedValue()
            let handed = connectionGuard.pass(from: source!, to: destination!, now: RequestObserver.now())
            return handed ? BEV_OK : BEV_NEED_MORE
        }, nil, 0, { context in
            let connectionGuard = Unmanaged<ConnectionGuard>.fromOpaque(context!).takeRetainedValue()
            connectionGuard.loop.forget(connectionGuard)
        }, context)
        guard let filter else {
            Unmanaged<ConnectionGuard>.fromOpaque(context).release()
            bufferevent_free(socket)
            return nil
        }
        connectionGuard.filter = filter
        connectionGuard.socket = socket
        guards[filter] = connectionGuard
        if !hasRoom {
            connectionGuard.refuseEverything(
                HTTPError(.unavailable, "the server has as many connections open as it may; retry shortly", headers: ["Retry-After": "1"]),
                now: now)
            watch(connectionGuard)
            logOverCapacity()
        }
        return filter
    }

    /// evhttp is about to close a connection (its close callback runs before it shuts the
    /// descriptor down): make sure the reply it last wrote reaches the client.
    ///
    /// evhttp counts a reply as written once the filter passed it on to the socket's bufferevent,
    /// and then (for `Connection: close`) shuts the descriptor down and closes it. Bytes still waiting
    /// in the socket's output would be lost, so the socket moves to a duplicate of the descriptor and
    /// the number evhttp is about to shut down is pointed at /dev/null; when the filter is freed, the
    /// socket's bufferevent lingers until its output is written (or 10 s pass), then closes.
    func connectionClosing(_ connection: OpaquePointer) {
        guard let filter = evhttp_connection_get_bufferevent(connection), let connectionGuard = guards[filter],
              let socket = connectionGuard.socket, !connectionGuard.lingers else { return }
        let descriptor = bufferevent_getfd(socket)
        guard descriptor >= 0, evbuffer_get_length(bufferevent_get_output(socket)) > 0 else { return }
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard copy >= 0, null >= 0 else {
            if copy >= 0 { Glibc.close(copy) }
            if null >= 0 { Glibc.close(null) }
            return
        }
        // The socket's events move to the copy first, while the old number still is the socket
        // (epoll refuses to change the registration of what /dev/null has become).
        bufferevent_setfd(socket, copy)
        if swift_ocean_redirect_descriptor(null, descriptor) < 0 {
            // The number still is the socket, and evhttp will shut it down: nothing lingers.
            bufferevent_setfd(socket, descriptor)
            Glibc.close(copy)
            Glibc.close(null)
            return
        }
        Glibc.close(null)
        connectionGuard.lingers = true
    }

    /// The connection's filter was freed (evhttp closed the connection): forget its guard, and let
    /// its socket finish writing when `connectionClosing` said so.
    private func forget(_ connectionGuard: ConnectionGuard) {
        connectionGuard.released()
        unwatch(connectionGuard)
        if connectionGuard.isClosing { closingCount -= 1 }
        // libevent frees a filter later than evhttp lets go of it, and a new connection's filter may
        // already have the freed one's address: remove the entry only if it still is this guard's.
        if let filter = connectionGuard.filter, guards[filter] === connectionGuard { guards[filter] = nil }
        guard let socket = connectionGuard.socket else { return }
        guard connectionGuard.lingers, evbuffer_get_length(bufferevent_get_output(socket)) > 0 else {
            let descriptor = bufferevent_getfd(socket)
            bufferevent_free(socket)
            // A lingering socket owns its duplicate descriptor; otherwise evhttp closes the descriptor.
            if connectionGuard.lingers, descriptor >= 0 { Glibc.close(descriptor) }
            return
        }
        bufferevent_setcb(socket, nil, { socket, argument in
            Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue().stopLingering(socket!)
        }, { socket, _, argument in
            Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue().stopLingering(socket!)
        }, Unmanaged.passUnretained(self).toOpaque())
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        bufferevent_set_timeouts(socket, nil, &timeout)
        bufferevent_disable(socket, Int16(EV_READ))
        bufferevent_enable(socket, Int16(EV_WRITE))
        lingering.insert(socket)
    }

    /// A lingering socket's output was written, or it failed or timed out: close it.
    private func stopLingering(_ socket: OpaquePointer) {
        guard lingering.remove(socket) != nil else { return }
        let descriptor = bufferevent_getfd(socket)
        bufferevent_free(socket)
        if descriptor >= 0 { Glibc.close(descriptor) }
        checkDrained()
    }

    /// Closes the connection that has waited longest for a request without any being handled;
    /// false when every connection has a request in progress.
    private func evictIdlest() -> Bool {
        var idlest: ConnectionGuard?
        for candidate in guards.values where !candidate.isBusy && !candidate.isClosing {
            if idlest == nil || candidate.lastActive < idlest!.lastActive { idlest = candidate }
        }
        guard let idlest else { return false }
        close(idlest)
        return true
    }

    /// Closes a connection with no request in progress (evhttp frees it, and its guard with it).
    private func close(_ connectionGuard: ConnectionGuard) {
        guard let filter = connectionGuard.filter, !connectionGuard.isClosing else { return }
        connectionGuard.isClosing = true
        closingCount += 1
        bufferevent_trigger_event(filter, Int16(BEV_EVENT_READING | BEV_EVENT_TIMEOUT), 0)
    }

    private func sweepDeadlines() {
        guard !watched.isEmpty else { return }
        let now = RequestObserver.now()
        let expired = watched.values.filter { ($0.deadline ?? .max) <= now }
        for connectionGuard in expired {
            unwatch(connectionGuard)
            if connectionGuard.deadlinePassed() { close(connectionGuard) }
        }
    }

    // MARK: Accept failures

    /// The listener that belongs to this context (its callback argument is evhttp's, not ours).
    private static let listenerOwners = Locked<[UInt: UInt]>([:])

    private static func owning(_ listener: OpaquePointer) -> LoopContext? {
        guard let bits = listenerOwners.withLock({ $0[UInt(bitPattern: listener)] }),
              let pointer = UnsafeMutableRawPointer(bitPattern: bits) else { return nil }
        return Unmanaged<LoopContext>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// accept() failed. Out of descriptors (EMFILE, ENFILE) it would fail again at once, in a loop.
    /// The idlest connections are closed to make room; when every connection is busy, the listener
    /// pauses briefly instead, and one waiting client is accepted with the spare descriptor and
    /// closed, so it learns at once instead of waiting. The failure is logged at most once a second.
    private func acceptFailed(_ listener: OpaquePointer) {
        let error = errno
        let now = RequestObserver.now()
        if let message = acceptFailures.record(error: error, now: now) {
            server.logger.warning("accepting connections failed", metadata: ["error": "\(message)"])
        }
        guard error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM else { return }
        // Closing the idlest connections frees descriptors at once (evhttp closes them as it frees
        // them): the clients waiting in the backlog, a health check among them, get in.
        var evicted = 0
        while evicted < 8, evictIdlest() { evicted += 1 }
        if evicted > 0 { return }
        if spareDescriptor >= 0 {
            Glibc.close(spareDescriptor)
            let accepted = accept(evconnlistener_get_fd(listener), nil, nil)
            if accepted >= 0 { Glibc.close(accepted) }
            spareDescriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
        }
        evconnlistener_disable(listener)
        if acceptPause == nil {
            acceptPause = swift_ocean_timer_new(base, { _, _, argument in
                let context = Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue()
                context.resumeAccepting()
            }, Unmanaged.passUnretained(self).toOpaque())
        }
        if let acceptPause { swift_ocean_timer_add_ms(acceptPause, LoopContext.acceptPauseMilliseconds) }
    }

    private func resumeAccepting() {
        guard !isDraining else { return }
        for listener in listeners { evconnlistener_enable(listener) }
    }

    private func logOverCapacity() {
        if let message = acceptFailures.record(error: nil, now: RequestObserver.now()) {
            server.logger.warning("connection limit reached", metadata: [
                "http.max_connections": "\(maxConnections)", "detail": "\(message)",
            ])
        }
    }
}

/// Rate-limits the log lines of a failure that can repeat thousands of times a second.
struct AcceptFailureLog {
    private var lastLogged: UInt64 = 0
    private var suppressed = 0

    /// The line to log now, or nil when one was logged less than a second ago.
    mutating func record(error: Int32?, now: UInt64) -> String? {
        guard lastLogged == 0 || now &- lastLogged >= 1_000_000_000 else {
            suppressed += 1
            return nil
        }
        lastLogged = now
        let reason = error.map { String(cString: strerror($0)) } ?? "too many connections; new ones are refused"
        defer { suppressed = 0 }
        return suppressed > 0 ? "\(reason) (and \(suppressed) more since the last report)" : reason
    }
}

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
        adoptEvent = swift_ocean_timer_new(base, { _, _, argument in
            Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue().adoptAccepted()
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
        // Connections accepted a moment ago: evhttp has set them up, and closes them when freed.
        adoptAccepted()
        if let adoptEvent { event_free(adoptEvent) }
        adoptEvent = nil
        if let sweepTimer { event_free(sweepTimer) }
        sweepTimer = nil
        if let acceptPause { event_free(acceptPause) }
        acceptPause = nil
        if spareDescriptor >= 0 { Glibc.close(spareDescriptor) }
        spareDescriptor = -1
    }

    /// After evhttp is freed: the sockets still lingering are closed.
    func closeLingeringSockets() {
        for socket in lingering.keys { stopLingering(socket) }
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

    /// evhttp asks for the bufferevent of a connection it accepted: a socket bufferevent whose
    /// input the connection's guard checks after every read. At the connection limit the
    /// longest-idle connection is closed to make room; when none is idle, the new connection is
    /// answered 503 and closed.
    private func makeGuardedConnection(base: OpaquePointer) -> OpaquePointer? {
        let now = RequestObserver.now()
        // Connections accepted earlier in this same batch are set up by now (and may be evicted).
        adoptAccepted()
        let hasRoom = guards.count < maxConnections || evictIdlest()
        // It does not close the descriptor when freed: evhttp closes it.
        guard let bufferevent = bufferevent_socket_new(base, -1, 0) else { return nil }
        let connectionGuard = ConnectionGuard(loop: self, bufferevent: bufferevent, now: now)
        // Retained until the connection closes (`connectionClosed`).
        let context = Unmanaged.passRetained(connectionGuard).toOpaque()
        connectionGuard.inputCallback = evbuffer_add_cb(bufferevent_get_input(bufferevent), { input, information, context in
            // evhttp's own reads from the buffer (deletions) are not the guard's business.
            guard let information, information.pointee.n_added > 0 else { return }
            let connectionGuard = Unmanaged<ConnectionGuard>.fromOpaque(context!).takeUnretainedValue()
            connectionGuard.received(input!, added: information.pointee.n_added, now: RequestObserver.now())
        }, context)
        guards[bufferevent] = connectionGuard
        unadopted.append(connectionGuard)
        if let adoptEvent { event_active(adoptEvent, EV_TIMEOUT, 1) }
        if !hasRoom {
            connectionGuard.refuseEverything(
                HTTPError(.unavailable, "the server has as many connections open as it may; retry shortly", headers: ["Retry-After": "1"]),
                now: now)
            watch(connectionGuard)
            logOverCapacity()
        }
        return bufferevent
    }

    /// evhttp has made its connection around each bufferevent just handed to it: learn the
    /// connection (evhttp passes it to its bufferevent callbacks) and when it closes.
    func adoptAccepted() {
        guard !unadopted.isEmpty else { return }
        let accepted = unadopted
        unadopted.removeAll()
        for connectionGuard in accepted where connectionGuard.connection == nil {
            var argument: UnsafeMutableRawPointer?
            bufferevent_getcb(connectionGuard.bufferevent, nil, nil, nil, &argument)
            guard let argument else { continue }
            let connection = OpaquePointer(argument)
            connectionGuard.connection = connection
            watchClosing(connection)
        }
    }

    /// evhttp tells `connectionClosed` when it is about to close `connection`.
    private func watchClosing(_ connection: OpaquePointer) {
        evhttp_connection_set_closecb(connection, { connection, argument in
            Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue().connectionClosed(connection!)
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// evhttp is about to close a connection (and then free it): its guard goes, giving back what
    /// it held. When a request of it was refused, the client may still be sending: the socket
    /// lingers a while, its input read and dropped, so that closing it does not reset the
    /// connection (a reset can destroy the refusal before the client reads it).
    private func connectionClosed(_ connection: OpaquePointer) {
        guard let bufferevent = evhttp_connection_get_bufferevent(connection),
              let connectionGuard = guards.removeValue(forKey: bufferevent) else { return }
        finished(connectionGuard)
        if let callback = connectionGuard.inputCallback {
            evbuffer_remove_cb_entry(bufferevent_get_input(bufferevent), callback)
            connectionGuard.inputCallback = nil
        }
        if connectionGuard.refusedRequest { linger(bufferevent_getfd(bufferevent)) }
        connectionGuard.released()
        unwatch(connectionGuard)
        Unmanaged.passUnretained(connectionGuard).release()
    }

    /// How long a socket lingers at most.
    private static let lingerNanoseconds: UInt64 = 5_000_000_000

    /// Keeps the socket of `descriptor` open on a duplicate after evhttp closes its own (evhttp
    /// shuts the socket's writing down first, so the client sees its reply end).
    private func linger(_ descriptor: Int32) {
        // Lingering sockets hold descriptors the connection limit no longer counts: a few at most.
        guard descriptor >= 0, lingering.count < max(16, maxConnections / 8) else { return }
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { return }
        guard let socket = bufferevent_socket_new(base, copy, 0) else {
            Glibc.close(copy)
            return
        }
        // What arrives is dropped; the sweep closes the socket when its time is up.
        bufferevent_setcb(socket, { socket, _ in
            let input = bufferevent_get_input(socket)
            evbuffer_drain(input, evbuffer_get_length(input))
        }, nil, { socket, _, argument in
            Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue().stopLingering(socket!)
        }, Unmanaged.passUnretained(self).toOpaque())
        bufferevent_enable(socket, Int16(EV_READ))
        lingering[socket] = RequestObserver.now()
    }

    /// A lingering socket's client closed, failed or took too long: close it.
    private func stopLingering(_ socket: OpaquePointer) {
        guard lingering.removeValue(forKey: socket) != nil else { return }
        let descriptor = bufferevent_getfd(socket)
        bufferevent_free(socket)
        if descriptor >= 0 { Glibc.close(descriptor) }
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
        guard !connectionGuard.isClosing else { return }
        connectionGuard.isClosing = true
        // Through evhttp's own error path, as if the read had timed out: it closes and frees it.
        bufferevent_trigger_event(connectionGuard.bufferevent, Int16(BEV_EVENT_READING | BEV_EVENT_TIMEOUT), 0)
    }

    private func sweepDeadlines() {
        let now = RequestObserver.now()
        for (socket, started) in lingering where now &- started >= LoopContext.lingerNanoseconds {
            stopLingering(socket)
        }
        guard !watched.isEmpty else { return }
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

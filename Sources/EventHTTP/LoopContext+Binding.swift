import CLibevent

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Binding a loop's listening socket.
extension LoopContext {
    /// Listens on `configuration.host:port` and hands the listener to `http`; the bound port (for
    /// port 0, the one the system chose), evhttp's bound socket and the listener.
    static func bind(
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
}

import CLibevent

/// What a request's headers give the loop: the headers as a handler sees them, and its request id.
extension LoopContext {
    /// The request's header fields, in the order they came.
    func readHeaders(_ request: OpaquePointer) -> HTTPHeaders {
        var headers = HTTPHeaders()
        var field = swift_ocean_headers_first(evhttp_request_get_input_headers(request))
        while let current = field {
            headers.add(String(cString: current.pointee.key), String(cString: current.pointee.value))
            field = swift_ocean_headers_next(current)
        }
        return headers
    }

    /// The client's `X-Request-ID` when it is 1-128 visible ASCII characters, else a new one.
    func requestID(from headers: HTTPHeaders, number: UInt64) -> String {
        if let given = headers["X-Request-ID"], !given.isEmpty, given.utf8.count <= 128,
           given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        // The prefix and the number in hex, written out by hand: `String(_:radix:)` and a
        // concatenation were about 2% of a health check's cost.
        var digits = 1
        while digits < 16 && number >> (4 * digits) != 0 { digits += 1 }
        let prefix = requestIDPrefix
        return String(unsafeUninitializedCapacity: prefix.count + digits) { buffer in
            _ = buffer.initialize(from: prefix)
            var value = number
            for index in stride(from: prefix.count + digits - 1, through: prefix.count, by: -1) {
                let digit = UInt8(value & 0xF)
                buffer[index] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
                value >>= 4
            }
            return prefix.count + digits
        }
    }

    /// Six random hex digits and the loop index: with the counter, ids stay within Swift's 15-byte
    /// small-string form (no allocation) for the first million requests of a loop.
    static func makeRequestIDPrefix(loopIndex: Int) -> String {
        let hex = String(UInt32.random(in: 0...0xFF_FFFF), radix: 16)
        return String(repeating: "0", count: 6 - hex.count) + hex + "-\(loopIndex)-"
    }
}

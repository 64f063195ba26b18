/// A request as the router hands it to a handler: fully read, immutable, safe to pass to any task.
public struct HTTPRequest: Sendable {
    public let method: HTTPMethod
    /// The path as sent (still percent-encoded), without the query.
    public let path: String
    /// The raw query string (after `?`), if any.
    public let query: String?
    public let headers: HTTPHeaders
    /// The body bytes (empty when there is none).
    public let body: [UInt8]
    /// Values of the route's `{name}` and `{name...}` segments, percent-decoded.
    public internal(set) var pathParameters: [String: String]
    /// The request id: the client's `X-Request-ID` when it sent a sane one, else one made here.
    public let requestID: String

    public init(
        method: HTTPMethod,
        path: String,
        query: String? = nil,
        headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = [],
        pathParameters: [String: String] = [:],
        requestID: String = ""
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.pathParameters = pathParameters
        self.requestID = requestID
    }

    /// The decoded values of the query parameter `name`, in order (`?status=a&status=b`).
    public func queryValues(_ name: String) -> [String] {
        guard let query, !query.isEmpty else { return [] }
        var values: [String] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = PercentDecoding.decode(parts[0], plusIsSpace: true), key == name else { continue }
            let raw = parts.count > 1 ? parts[1] : ""
            if let value = PercentDecoding.decode(raw, plusIsSpace: true) {
                values.append(value)
            }
        }
        return values
    }

    /// Whether every name and value of `query` percent-decodes to UTF-8 (the server refuses a query
    /// that does not with 400, so a filter is never silently dropped).
    static func isWellFormedQuery(_ query: String) -> Bool {
        guard query.utf8.contains(where: { $0 == UInt8(ascii: "%") }) else { return true }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            for part in pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            where PercentDecoding.decode(part, plusIsSpace: true) == nil {
                return false
            }
        }
        return true
    }

    /// The first decoded value of the query parameter `name`, if any.
    public func queryValue(_ name: String) -> String? {
        queryValues(name).first
    }
}

/// Percent-decoding of URI components, refusing malformed escapes and invalid UTF-8.
enum PercentDecoding {
    static func decode(_ text: some StringProtocol, plusIsSpace: Bool = false) -> String? {
        let utf8 = Array(text.utf8)
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(text)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < utf8.count,
                      let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2])
                else { return nil }
                bytes.append(high << 4 | low)
                index += 3
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
                index += 1
            } else {
                bytes.append(byte)
                index += 1
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

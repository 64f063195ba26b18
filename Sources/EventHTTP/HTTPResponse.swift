import Essentials
public import FoundationEssentials

/// A reply: status, headers and body bytes. `Content-Length` and `X-Request-ID` are added by the server.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON reply whose body is already encoded.
    public static func json(_ status: HTTPStatus, body: [UInt8], headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = headers
        headers.replace("Content-Type", with: "application/json")
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    /// A JSON reply encoding `value` (with `encoder`, or sorted keys and unescaped slashes).
    public static func json(
        _ status: HTTPStatus, _ value: some Encodable, headers: HTTPHeaders = HTTPHeaders(), encoder: JSONEncoder? = nil
    ) throws -> HTTPResponse {
        let data = try (encoder ?? jsonEncoder).encode(value)
        return json(status, body: Array(data), headers: headers)
    }

    /// The JSON error reply for `error`: `{"error":{"code":"...","message":"..."}}`.
    public static func error(_ error: HTTPError) -> HTTPResponse {
        var body: [UInt8] = []
        body.reserveCapacity(48 + error.message.utf8.count)
        body.append(contentsOf: #"{"error":{"code":"#.utf8)
        JSONText.appendString(error.code.description, to: &body)
        body.append(contentsOf: #","message":"#.utf8)
        JSONText.appendString(error.message, to: &body)
        body.append(contentsOf: "}}".utf8)
        return json(error.code.status, body: body, headers: error.headers)
    }

    private static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// An error a handler (or the server itself) answers with: a stable machine-readable code, a
/// human-readable message, and optional extra response headers (`Allow`, `Retry-After`, ...).
///
/// The code decides the status, in one place (`Code.status`), so the same kind of failure always
/// gets the same answer. The body is `{"error":{"code":"...","message":"..."}}`.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// A machine-readable error code and the status it maps to.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Kind: String, Sendable {
            case badRequest = "bad_request"
            case unauthorized = "unauthorized"
            case notFound = "not_found"
            case methodNotAllowed = "method_not_allowed"
            case conflict = "conflict"
            case payloadTooLarge = "payload_too_large"
            case unsupportedMediaType = "unsupported_media_type"
            case internalError = "internal_error"
            case unavailable = "unavailable"
            case shuttingDown = "shutting_down"
            case requestTimeout = "request_timeout"
            case uriTooLong = "uri_too_long"
            case headersTooLarge = "headers_too_large"
            case expectationFailed = "expectation_failed"
            case notImplemented = "not_implemented"
            case versionNotSupported = "version_not_supported"
        }

        private let kind: Kind

        /// The code as it appears in the JSON body.
        public var description: String { kind.rawValue }

        /// The response status for this code: the one mapping from error codes to statuses.
        public var status: HTTPStatus {
            switch kind {
            case .badRequest: .badRequest
            case .unauthorized: .unauthorized
            case .notFound: .notFound
            case .methodNotAllowed: .methodNotAllowed
            case .conflict: .conflict
            case .payloadTooLarge: .payloadTooLarge
            case .unsupportedMediaType: .unsupportedMediaType
            case .internalError: .internalServerError
            case .unavailable, .shuttingDown: .serviceUnavailable
            case .requestTimeout: .requestTimeout
            case .uriTooLong: .uriTooLong
            case .headersTooLarge: .headersTooLarge
            case .expectationFailed: .expectationFailed
            case .notImplemented: .notImplemented
            case .versionNotSupported: .versionNotSupported
            }
        }

        /// The request is malformed: bad syntax, bad parameter, bad encoding.
        public static let badRequest = Code(kind: .badRequest)
        /// Credentials are missing or wrong.
        public static let unauthorized = Code(kind: .unauthorized)
        /// No such route or resource.
        public static let notFound = Code(kind: .notFound)
        /// The path exists but not for this method.
        public static let methodNotAllowed = Code(kind: .methodNotAllowed)
        /// The resource is in a state that forbids the request.
        public static let conflict = Code(kind: .conflict)
        /// The body is larger than the route accepts.
        public static let payloadTooLarge = Code(kind: .payloadTooLarge)
        /// The body's media type is not one the route reads.
        public static let unsupportedMediaType = Code(kind: .unsupportedMediaType)
        /// A failure inside the service; the message never carries internal details.
        public static let internalError = Code(kind: .internalError)
        /// The service cannot take the request now (not ready, queue full); retry later.
        public static let unavailable = Code(kind: .unavailable)
        /// The service is stopping and did not finish the request in time.
        public static let shuttingDown = Code(kind: .shuttingDown)
        /// The request's head or body did not arrive within the server's deadline.
        public static let requestTimeout = Code(kind: .requestTimeout)
        /// The request target is longer than the server reads.
        public static let uriTooLong = Code(kind: .uriTooLong)
        /// The header block is larger than the server reads.
        public static let headersTooLarge = Code(kind: .headersTooLarge)
        /// An `Expect` the server does not meet.
        public static let expectationFailed = Code(kind: .expectationFailed)
        /// A method or transfer coding the server does not implement.
        public static let notImplemented = Code(kind: .notImplemented)
        /// An HTTP version other than 1.0 and 1.1.
        public static let versionNotSupported = Code(kind: .versionNotSupported)
    }

    public let code: Code
    public let message: String
    /// Extra headers sent with the error response.
    public var headers: HTTPHeaders

    public init(_ code: Code, _ message: String, headers: HTTPHeaders = HTTPHeaders()) {
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(code): \(message)" }
}

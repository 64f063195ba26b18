/// Why a call failed for good. Its message names the method, the URL path and what happened —
/// never headers or bodies, which may hold credentials.
public struct HTTPCallError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The server answered with a status that is not retried, or still failing after the retries.
        case status
        /// No answer: connection refused or reset, DNS, TLS, timeout.
        case transport
        /// The response body was larger than accepted.
        case tooLarge = "too_large"
    }

    public let code: Code
    /// The last status, when there was an answer.
    public let status: Int?
    public let message: String

    public var description: String { message }
}

import FoundationEssentials

/// A webhook delivery as processors see it: the path it came to, its headers, the raw body (for
/// signatures) and the parsed payload.
public struct WebhookEvent: Sendable {
    /// The path after `/integration` (`/webhook`).
    public let path: String
    /// Header fields, names lower-cased.
    public let headers: [String: String]
    public let rawBody: [UInt8]
    public let payload: JSON

    public init(path: String, headers: [String: String], rawBody: [UInt8], payload: JSON) {
        self.path = path
        self.headers = headers
        self.rawBody = rawBody
        self.payload = payload
    }
}

extension WebhookEvent {
    /// Headers that carry a sender's delivery id (lower-cased, as `headers` has them).
    public static let deliveryIDHeaders = [
        "x-github-delivery", "x-gitlab-event-uuid", "x-atlassian-webhook-identifier", "x-request-uuid", "idempotency-key",
    ]
}

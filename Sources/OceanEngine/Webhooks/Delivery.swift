import OceanKit
import Essentials
public import FoundationEssentials

/// A webhook delivery as stored in the durable queue and shown by `GET /webhooks/deliveries`.
public struct Delivery: Sendable, Codable, Hashable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// Accepted, waiting for its turn.
        case pending
        /// An attempt failed; it will be retried at `nextAttemptAt`.
        case failed
        /// Every retry failed; kept until replayed or pruned.
        case dead
        /// Applied.
        case done
    }

    public let id: String
    public let path: String
    public let orderingKey: String
    /// Header fields (names lower-cased), without credentials (`authorization`, `cookie`).
    public let headers: [String: String]
    public let body: [UInt8]
    /// The processor's idempotency key (namespaced by path), if it gave one.
    public var idempotencyKey: String?
    public var status: Status
    public var attempts: Int
    public var lastError: String?
    public let acceptedAt: Date
    public var nextAttemptAt: Date
    public var appliedAt: Date?

    public init(id: String, path: String, orderingKey: String, headers: [String: String], body: [UInt8], acceptedAt: Date) {
        self.id = id
        self.path = path
        self.orderingKey = orderingKey
        self.headers = headers
        self.body = body
        status = .pending
        attempts = 0
        self.acceptedAt = acceptedAt
        nextAttemptAt = acceptedAt
    }

    /// Header names that are never stored.
    static let credentialHeaders: Set<String> = ["authorization", "cookie", "proxy-authorization"]
}

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

/// The durable queue of deliveries.
///
/// Contract: `insert` is durable when it returns (the delivery survives a crash); `waiting` returns
/// every pending or failed delivery, oldest first (read once at start); `update` replaces the
/// stored state; `list` is newest first; `prune` keeps at most `keepFinished` done and dead deliveries.
public protocol DeliveryStore: Sendable {
    func insert(_ delivery: Delivery) async throws
    func waiting() async throws -> [Delivery]
    func update(_ delivery: Delivery) async throws
    func delivery(_ id: String) async throws -> Delivery?
    func list(status: Delivery.Status?, limit: Int) async throws -> [Delivery]
    /// Pending and failed deliveries (the queue's depth).
    func queuedCount() async throws -> Int
    func prune(keepFinished: Int) async throws
}

/// Entities changed by webhooks, remembered while resyncs run so a resync neither overwrites them
/// with the older copy it fetched nor deletes them as stale.
public final class RecentChanges: Sendable {
    private let changes = Locked<[String: Date]>([:])

    public init() {}

    static func key(_ blueprint: String, _ identifier: String) -> String { blueprint + "\u{0}" + identifier }

    /// Notes that a webhook wrote or deleted these entities now.
    public func note(_ entities: [(blueprint: String, identifier: String)], at date: Date) {
        changes.withLock { changes in
            for entity in entities { changes[Self.key(entity.blueprint, entity.identifier)] = date }
        }
    }

    /// Whether a webhook changed the entity at or after `date`.
    public func changed(_ blueprint: String, _ identifier: String, since date: Date) -> Bool {
        changes.withLock { ($0[Self.key(blueprint, identifier)] ?? .distantPast) >= date }
    }

    /// Forgets changes older than `date` (no running job started before it).
    public func forget(before date: Date) {
        changes.withLock { $0 = $0.filter { $0.value >= date } }
    }
}

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
    func prune(keepFinished: Int) async throws
}

/// Entities changed by webhooks, remembered while resyncs run so a resync neither overwrites them
/// with the older copy it fetched nor deletes them as stale. Changes are kept only while some job
/// runs, and only as far back as the oldest running job's start: memory stays bounded.
public final class RecentChanges: Sendable {
    private struct State {
        var changes: [String: Date] = [:]
        /// Running jobs and when they started.
        var watching: [String: Date] = [:]
    }

    private let state = Locked(State())

    public init() {}

    static func key(_ blueprint: String, _ identifier: String) -> String { blueprint + "\u{0}" + identifier }

    /// A job started: changes from `date` on matter to it.
    public func beginWatching(job: String, since date: Date) {
        state.withLock { $0.watching[job] = date }
    }

    /// A job finished: changes older than every remaining job's start are forgotten.
    public func endWatching(job: String) {
        state.withLock { state in
            state.watching[job] = nil
            guard let oldest = state.watching.values.min() else {
                state.changes.removeAll()
                return
            }
            state.changes = state.changes.filter { $0.value >= oldest }
        }
    }

    /// Notes that a webhook wrote or deleted these entities now (nothing is kept when no job runs).
    public func note(_ entities: [(blueprint: String, identifier: String)], at date: Date) {
        state.withLock { state in
            guard !state.watching.isEmpty else { return }
            for entity in entities { state.changes[Self.key(entity.blueprint, entity.identifier)] = date }
        }
    }

    /// The entities no webhook changed at or after `date` (one lock for the whole batch; nothing to
    /// look up when no webhook changed anything).
    public func unchanged(_ entities: [MappedEntity], since date: Date) -> [MappedEntity] {
        state.withLock { state in
            guard !state.changes.isEmpty else { return entities }
            return entities.filter { (state.changes[Self.key($0.blueprint, $0.identifier)] ?? .distantPast) < date }
        }
    }

    /// Whether a webhook changed the entity at or after `date`.
    public func changed(_ blueprint: String, _ identifier: String, since date: Date) -> Bool {
        state.withLock { state in
            guard let changed = state.changes[Self.key(blueprint, identifier)] else { return false }
            return changed >= date
        }
    }
}

import OceanKit
import Essentials
public import FoundationEssentials

/// Entities changed by webhooks, remembered while resyncs run so a resync neither overwrites them
/// with the older copy it fetched nor deletes them as stale. Changes are kept only while some job
/// runs, and only as far back as the oldest running job's start: memory stays bounded.
///
/// The check and the write are one step per entity: a resync *claims* the entities it is about to
/// write (or delete) — those no webhook changed since the job started — and holds them until its
/// write is done; a webhook *marks* the entities it is about to write before it writes, and waits
/// for any claim on them to be released. Either the resync's claim comes first (the webhook's newer
/// write then lands after it) or the mark does (the resync then leaves the entity alone): a webhook's
/// change is never overwritten or resurrected by a resync.
public final class RecentChanges: Sendable {
    private struct State {
        var changes: [String: Date] = [:]
        /// Running jobs and when they started.
        var watching: [String: Date] = [:]
        /// Entities claimed by resync writes in progress, and how many claims each has.
        var claims: [String: Int] = [:]
        /// Webhook writes waiting for claims on their entities to be released.
        var waiters: [(keys: [String], continuation: CheckedContinuation<Void, Never>)] = []
    }

    /// A resync's hold on the entities it is writing; give it back with `release`.
    public struct Claim: Sendable {
        fileprivate let keys: [String]
        /// The entities claimed: the ones to write.
        public let entities: [MappedEntity]
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

    // MARK: The resync's side

    /// Claims the entities no webhook changed at or after `date` (one lock for the whole batch).
    public func claim(_ entities: [MappedEntity], since date: Date) -> Claim {
        state.withLock { state in
            let unchanged = state.changes.isEmpty ? entities
                : entities.filter { (state.changes[Self.key($0.blueprint, $0.identifier)] ?? .distantPast) < date }
            let keys = unchanged.map { Self.key($0.blueprint, $0.identifier) }
            for key in keys { state.claims[key, default: 0] += 1 }
            return Claim(keys: keys, entities: unchanged)
        }
    }

    /// Claims, for deletion, the identifiers of `blueprint` no webhook changed at or after `date`.
    public func claim(blueprint: String, identifiers: [String], since date: Date) -> (claim: Claim, identifiers: [String]) {
        state.withLock { state in
            let unchanged = identifiers.filter { (state.changes[Self.key(blueprint, $0)] ?? .distantPast) < date }
            let keys = unchanged.map { Self.key(blueprint, $0) }
            for key in keys { state.claims[key, default: 0] += 1 }
            return (Claim(keys: keys, entities: []), unchanged)
        }
    }

    /// The resync's write is done (or failed): webhooks waiting for these entities may write.
    public func release(_ claim: Claim) {
        guard !claim.keys.isEmpty else { return }
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            for key in claim.keys {
                if let count = state.claims[key], count > 1 { state.claims[key] = count - 1 } else { state.claims[key] = nil }
            }
            var ready: [CheckedContinuation<Void, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.keys.allSatisfy({ state.claims[$0] == nil }) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    // MARK: The webhook's side

    /// A webhook is about to write or delete these entities: from now on no resync claims them, and
    /// this returns once every claim a resync already holds on them is released.
    public func markChanging(_ entities: [(blueprint: String, identifier: String)], at date: Date) async {
        let keys = entities.map { Self.key($0.blueprint, $0.identifier) }
        guard !keys.isEmpty else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let mustWait = state.withLock { state -> Bool in
                if !state.watching.isEmpty {
                    for key in keys { state.changes[key] = date }
                }
                guard keys.contains(where: { state.claims[$0] != nil }) else { return false }
                state.waiters.append((keys, continuation))
                return true
            }
            if !mustWait { continuation.resume() }
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

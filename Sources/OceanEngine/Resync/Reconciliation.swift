public import OceanKit

/// What a finished job may delete, decided from facts alone (no store, no actor): the job's
/// progress, the mapping, what the integration owned when the job started, and, per blueprint,
/// the owned entities the job did not write.
///
/// A blueprint is reconciled only when it is safe: every resource of the mapping that could produce
/// it (its blueprint is that literal, or computed per record) ran in this job and finished cleanly
/// (no failed records or entities), and the stale share of what was owned stays within
/// `entityDeletionThreshold`. Otherwise it is left alone and the reason recorded.
public struct Reconciliation: Sendable {
    /// What to do with one blueprint.
    public enum Decision: Sendable, Hashable {
        /// Delete these identifiers.
        case delete([String])
        /// Delete nothing, for `reason`; `metric` is the reason's label on
        /// `ocean_reconciliation_skipped_total` (`unknown`, `unclean`, `threshold`).
        case skip(reason: String, metric: String)
    }

    /// The blueprints the job wrote or could have written, sorted.
    public let blueprints: [String]
    private let progress: [ResourceProgress]
    private let mapping: PortAppConfig
    private let ownedBefore: [String: Int]?
    /// Each resource's literal blueprint; nil where it is computed per record.
    private let constant: [String?]

    /// `ownedBefore` is nil when it could not be read: then nothing is deleted.
    public init(progress: [ResourceProgress], mapping: PortAppConfig, ownedBefore: [String: Int]?) {
        self.progress = progress
        self.mapping = mapping
        self.ownedBefore = ownedBefore
        constant = mapping.resources.map(MappingPlan.constantBlueprint(of:))
        var candidates = Set<String>()
        for resource in progress {
            if resource.resourceIndex < constant.count, let blueprint = constant[resource.resourceIndex] { candidates.insert(blueprint) }
            candidates.formUnion(resource.blueprints.keys)
        }
        blueprints = candidates.sorted()
    }

    /// Entities of `blueprint` the job wrote.
    public func upserted(_ blueprint: String) -> Int {
        progress.reduce(0) { $0 + ($1.blueprints[blueprint] ?? 0) }
    }

    /// Entities of `blueprint` owned when the job started.
    public func owned(_ blueprint: String) -> Int {
        ownedBefore?[blueprint] ?? 0
    }

    /// Why `blueprint` must be left alone whatever is stale (a `.skip`); nil when its stale
    /// entities may be listed.
    public func blocker(for blueprint: String) -> Decision? {
        guard ownedBefore != nil else {
            return .skip(reason: "what the integration owned before the job could not be read", metric: "unknown")
        }
        let ran = Dictionary(progress.map { ($0.resourceIndex, $0) }, uniquingKeysWith: { first, _ in first })
        var blockers: [String] = []
        for (index, resource) in mapping.resources.enumerated() where constant[index] == nil || constant[index] == blueprint {
            guard let resourceProgress = ran[index] else {
                blockers.append("kind \(resource.kind) (resources[\(index)]) was not part of this job")
                continue
            }
            if resourceProgress.status != .succeeded {
                blockers.append("kind \(resource.kind) \(resourceProgress.status.rawValue)")
            } else if resourceProgress.failed > 0 {
                blockers.append("kind \(resource.kind) had \(resourceProgress.failed) failed record\(resourceProgress.failed == 1 ? "" : "s")")
            }
        }
        guard blockers.isEmpty else {
            return .skip(reason: "not every resource producing it finished cleanly: " + blockers.joined(separator: "; "), metric: "unclean")
        }
        return nil
    }

    /// What to do with `blueprint` given its `stale` identifiers (owned, not written by the job,
    /// not changed by a webhook since the job started).
    public func decision(for blueprint: String, stale: [String]) -> Decision {
        if let blocker = blocker(for: blueprint) { return blocker }
        let owned = owned(blueprint)
        if owned > 0, !stale.isEmpty, Double(stale.count) / Double(owned) > mapping.entityDeletionThreshold {
            return .skip(
                reason: "deletion threshold exceeded: \(stale.count) of \(owned) owned entities are stale (entityDeletionThreshold \(mapping.entityDeletionThreshold))",
                metric: "threshold")
        }
        return .delete(stale)
    }

    /// The resource each blueprint's deletions belong to: the one resource producing it, when only
    /// one does (positions in `progress`).
    public func producer(of blueprint: String) -> Int? {
        let producers = progress.indices.filter { position in
            (progress[position].blueprints[blueprint] ?? 0) > 0
                || (progress[position].resourceIndex < constant.count && constant[progress[position].resourceIndex] == blueprint)
        }
        return producers.count == 1 ? producers[0] : nil
    }
}

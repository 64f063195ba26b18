import OceanKit



/// A destination that can also say what an integration owns and delete what went stale.
///
/// Contract: ownership is by integration identifier. `staleIdentifiers` lists, for each of the
/// given blueprints, the entities the integration owns that the given job did not write; `delete`
/// removes the given ones (and, when asked and supported, the entities that depend on them) and
/// returns how many it removed; `finishJob` is called once the job is over, whatever its outcome,
/// so the destination can drop what it kept for it.
public protocol ReconcilingSink: EntitySink {
    /// What the integration owns, read when a job starts.
    func ownedAtStart(integration: String) async throws -> OwnedEntities
    /// `ownedAtStart` is what `ownedAtStart` returned for this job: a destination that had to list
    /// its identifiers (Port) compares with them instead of listing again. (What the integration
    /// came to own during the job, the job wrote or a webhook did: never stale.)
    func staleIdentifiers(blueprints: Set<String>, integration: String, jobID: String, ownedAtStart: OwnedEntities) async throws -> [String: [String]]
    func delete(blueprint: String, identifiers: [String], integration: String, deleteDependents: Bool) async throws -> Int
    func finishJob(_ jobID: String) async
}

/// What an integration owns at the destination.
public struct OwnedEntities: Sendable, Hashable {
    /// Entities by blueprint.
    public var counts: [String: Int]
    /// The identifiers by blueprint, when reading the counts listed them anyway.
    public var identifiers: [String: [String]]?

    public init(counts: [String: Int], identifiers: [String: [String]]? = nil) {
        self.counts = counts
        self.identifiers = identifiers
    }
}

extension ReconcilingSink {
    public func finishJob(_ jobID: String) async {}
}

import OceanKit



/// A destination that can also say what an integration owns and delete what went stale.
///
/// Contract: ownership is by integration identifier. `staleIdentifiers` lists, for each of the
/// given blueprints, the entities the integration owns that the given job did not write; `delete`
/// removes the given ones (and, when asked and supported, the entities that depend on them) and
/// returns how many it removed; `finishJob` is called once the job is over, whatever its outcome,
/// so the destination can drop what it kept for it.
public protocol ReconcilingSink: EntitySink {
    /// How many entities the integration owns, by blueprint (read when a job starts).
    func ownedCounts(integration: String) async throws -> [String: Int]
    func staleIdentifiers(blueprints: Set<String>, integration: String, jobID: String) async throws -> [String: [String]]
    func delete(blueprint: String, identifiers: [String], integration: String, deleteDependents: Bool) async throws -> Int
    func finishJob(_ jobID: String) async
}

extension ReconcilingSink {
    public func finishJob(_ jobID: String) async {}
}

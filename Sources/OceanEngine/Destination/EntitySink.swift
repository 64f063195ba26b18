import OceanKit



/// Where entities go: the embedded catalog or Port.
///
/// Contract: `upsert` writes every entity it can and reports the ones it could not, one by one; it
/// throws only when the destination as a whole failed (then none of the batch counts as written).
/// Calls may come from several resources at once.
public protocol EntitySink: Sendable {
    /// A name for logs and job errors ("catalog", "port").
    var name: String { get }

    /// Which destination this is, as far as what was written there goes (the catalog's file, a
    /// Port organisation): what was last written somewhere else says nothing about it.
    var destinationIdentity: String { get }

    /// Creates or updates `entities` (merging properties when `options.merge`).
    func upsert(_ entities: [MappedEntity], options: UpsertOptions) async throws -> UpsertOutcome

    /// `entities` were not sent because the last write of each was the same: the job saw them (so
    /// reconciliation must not count them as stale). Returns those the destination knows are
    /// missing after all (they must be written).
    func confirmUnchanged(_ entities: [MappedEntity], options: UpsertOptions) async throws -> [MappedEntity]
}

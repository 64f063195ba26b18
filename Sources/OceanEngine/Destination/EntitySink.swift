import OceanKit



/// Where entities go: the embedded catalog or Port.
///
/// Contract: `upsert` writes every entity it can and reports the ones it could not, one by one; it
/// throws only when the destination as a whole failed (then none of the batch counts as written).
/// Calls may come from several resources at once.
public protocol EntitySink: Sendable {
    /// A name for logs and job errors ("catalog", "port").
    var name: String { get }

    /// Creates or updates `entities` (merging properties when `options.merge`).
    func upsert(_ entities: [MappedEntity], options: UpsertOptions) async throws -> UpsertOutcome
}

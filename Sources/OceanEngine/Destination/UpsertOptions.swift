import OceanKit



/// How entities are written.
public struct UpsertOptions: Sendable, Hashable {
    /// Merge into existing entities (`enableMergeEntity`) rather than replace them.
    public var merge: Bool
    /// Create missing related entities (`createMissingRelatedEntities`).
    public var createMissingRelatedEntities: Bool
    /// The integration writing (its identifier marks ownership).
    public var integrationIdentifier: String
    /// The job writing.
    public var jobID: String
    /// Whether the destination should remember what this job wrote for reconciliation (false for
    /// webhook writes, which no reconciliation reads).
    public var tracksWrites: Bool

    public init(merge: Bool, createMissingRelatedEntities: Bool, integrationIdentifier: String, jobID: String, tracksWrites: Bool = true) {
        self.merge = merge
        self.createMissingRelatedEntities = createMissingRelatedEntities
        self.integrationIdentifier = integrationIdentifier
        self.jobID = jobID
        self.tracksWrites = tracksWrites
    }
}

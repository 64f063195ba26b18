import OceanKit
import Essentials
import FoundationEssentials

/// The reconciliation of one blueprint after a job.
public struct BlueprintReconciliation: Sendable, Codable, Hashable {
    public let blueprint: String
    /// Entities of the blueprint the integration owned when the job started.
    public var ownedBefore: Int
    /// Entities of the blueprint the job wrote.
    public var upserted: Int
    /// Owned entities the job did not write.
    public var stale: Int
    public var deleted: Int
    /// Why nothing was deleted, when nothing was (`null` when the stale entities were deleted).
    public var skipped: String?

    public init(blueprint: String, ownedBefore: Int, upserted: Int, stale: Int = 0, deleted: Int = 0, skipped: String? = nil) {
        self.blueprint = blueprint
        self.ownedBefore = ownedBefore
        self.upserted = upserted
        self.stale = stale
        self.deleted = deleted
        self.skipped = skipped
    }

    private enum CodingKeys: String, CodingKey {
        case blueprint, ownedBefore, upserted, stale, deleted, skipped
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(blueprint, forKey: .blueprint)
        try container.encode(ownedBefore, forKey: .ownedBefore)
        try container.encode(upserted, forKey: .upserted)
        try container.encode(stale, forKey: .stale)
        try container.encode(deleted, forKey: .deleted)
        try container.encode(skipped, forKey: .skipped)
    }
}

import OceanKit
import Essentials
public import FoundationEssentials

/// One resource's part of a job.
public struct ResourceProgress: Sendable, Codable, Hashable {
    public enum Status: String, Sendable, Codable {
        case queued, running, succeeded, failed, cancelled
    }

    public let kind: String
    /// Position of the resource in the mapping.
    public let resourceIndex: Int
    public var status: Status
    /// Records the handler yielded.
    public var fetched = 0
    /// Records (or items) the selector turned away.
    public var filtered = 0
    /// Entities the mapping produced.
    public var mapped = 0
    /// Entities written to the destination.
    public var upserted = 0
    /// Entities not sent because the last write of each was the same (they count as seen).
    public var unchanged = 0
    /// Records, items or entities that failed (mapping or writing).
    public var failed = 0
    /// Fields that mapped to null because their expression failed.
    public var misconfiguredFields = 0
    /// Stale entities deleted (reconciliation) in the blueprints only this resource produces.
    public var deleted = 0
    /// Entities written, by blueprint.
    public var blueprints: [String: Int] = [:]
    /// The first few problems, for a person to read (bounded).
    public var errors: [String] = []
    /// Why this resource failed, when it did.
    public var error: String?
    public var startedAt: Date?
    public var finishedAt: Date?

    public init(kind: String, resourceIndex: Int) {
        self.kind = kind
        self.resourceIndex = resourceIndex
        status = .queued
    }

    /// How many problems `errors` keeps.
    public static let errorLimit = 10

    private enum CodingKeys: String, CodingKey {
        case kind, resourceIndex, status, fetched, filtered, mapped, upserted, unchanged, failed, misconfiguredFields, deleted
        case blueprints, errors, error, startedAt, finishedAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(String.self, forKey: .kind)
        resourceIndex = try container.decode(Int.self, forKey: .resourceIndex)
        status = try container.decode(Status.self, forKey: .status)
        fetched = try container.decode(Int.self, forKey: .fetched)
        filtered = try container.decode(Int.self, forKey: .filtered)
        mapped = try container.decode(Int.self, forKey: .mapped)
        upserted = try container.decode(Int.self, forKey: .upserted)
        unchanged = try container.decodeIfPresent(Int.self, forKey: .unchanged) ?? 0
        failed = try container.decode(Int.self, forKey: .failed)
        misconfiguredFields = try container.decode(Int.self, forKey: .misconfiguredFields)
        deleted = try container.decode(Int.self, forKey: .deleted)
        blueprints = try container.decodeIfPresent([String: Int].self, forKey: .blueprints) ?? [:]
        errors = try container.decode([String].self, forKey: .errors)
        error = try container.decodeIfPresent(String.self, forKey: .error)
        startedAt = try container.decodeIfPresent(Date.self, forKey: .startedAt)
        finishedAt = try container.decodeIfPresent(Date.self, forKey: .finishedAt)
    }

    /// Every key is always present (`null` when unset).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(resourceIndex, forKey: .resourceIndex)
        try container.encode(status, forKey: .status)
        try container.encode(fetched, forKey: .fetched)
        try container.encode(filtered, forKey: .filtered)
        try container.encode(mapped, forKey: .mapped)
        try container.encode(upserted, forKey: .upserted)
        try container.encode(unchanged, forKey: .unchanged)
        try container.encode(failed, forKey: .failed)
        try container.encode(misconfiguredFields, forKey: .misconfiguredFields)
        try container.encode(deleted, forKey: .deleted)
        try container.encode(blueprints, forKey: .blueprints)
        try container.encode(errors, forKey: .errors)
        try container.encode(error, forKey: .error)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(finishedAt, forKey: .finishedAt)
    }

    mutating func note(_ problem: String) {
        if errors.count < Self.errorLimit { errors.append(problem) }
    }
}

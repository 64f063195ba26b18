public import Essentials
public import FoundationEssentials

/// A resync job as `GET /jobs` shows it: what it covers, who asked, where it stands, and per
/// resource how many records went where.
public struct Job: Sendable, Codable, Hashable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        case queued, running, succeeded, failed, cancelled

        /// Finished one way or another.
        public var isFinal: Bool { self == .succeeded || self == .failed || self == .cancelled }
    }

    public enum Trigger: String, Sendable, Codable, CaseIterable {
        case http, schedule, startup, webhook, cli
    }

    /// What a job covers: every kind of the mapping, or one kind.
    public enum Scope: Sendable, Hashable {
        case allKinds
        case kind(String)
    }

    public let id: String
    /// The kinds covered: for an all-kinds job, every kind of the mapping once it has started.
    public var kinds: [String]
    /// True when the job covers every kind of the mapping.
    public let allKinds: Bool
    public let trigger: Trigger
    public var status: Status
    public let createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// Why the job failed or was cancelled, when it did (job-level: the mapping could not be read,
    /// the job was interrupted, cancelled by request, ...).
    public var error: String?
    /// Per resource of the mapping the job runs: progress and outcome.
    public var progress: [ResourceProgress]
    /// Set when someone asked to cancel.
    public var cancelRequested: Bool
    /// Per blueprint: what the job owned before, wrote, found stale and deleted, or why it deleted
    /// nothing. Empty until the resources have finished (and when the destination cannot reconcile).
    public var reconciliation: [BlueprintReconciliation] = []

    public var scope: Scope { allKinds ? .allKinds : .kind(kinds.first ?? "") }

    public init(id: String, scope: Scope, trigger: Trigger, createdAt: Date) {
        self.id = id
        switch scope {
        case .allKinds:
            kinds = []
            allKinds = true
        case .kind(let kind):
            kinds = [kind]
            allKinds = false
        }
        self.trigger = trigger
        status = .queued
        self.createdAt = createdAt
        progress = []
        cancelRequested = false
    }

    /// The JSON form of jobs everywhere (HTTP, the job store): ISO 8601 dates, sorted keys.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    private enum CodingKeys: String, CodingKey {
        case id, kinds, allKinds, trigger, status, createdAt, startedAt, finishedAt, error, progress, cancelRequested
        case reconciliation
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        kinds = try container.decode([String].self, forKey: .kinds)
        allKinds = try container.decode(Bool.self, forKey: .allKinds)
        trigger = try container.decode(Trigger.self, forKey: .trigger)
        status = try container.decode(Status.self, forKey: .status)
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        startedAt = try container.decodeIfPresent(Date.self, forKey: .startedAt)
        finishedAt = try container.decodeIfPresent(Date.self, forKey: .finishedAt)
        error = try container.decodeIfPresent(String.self, forKey: .error)
        progress = try container.decode([ResourceProgress].self, forKey: .progress)
        cancelRequested = try container.decode(Bool.self, forKey: .cancelRequested)
        reconciliation = try container.decodeIfPresent([BlueprintReconciliation].self, forKey: .reconciliation) ?? []
    }

    /// Every key is always present (`null` when unset), so clients can rely on the shape.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(kinds, forKey: .kinds)
        try container.encode(allKinds, forKey: .allKinds)
        try container.encode(trigger, forKey: .trigger)
        try container.encode(status, forKey: .status)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(finishedAt, forKey: .finishedAt)
        try container.encode(error, forKey: .error)
        try container.encode(progress, forKey: .progress)
        try container.encode(cancelRequested, forKey: .cancelRequested)
        try container.encode(reconciliation, forKey: .reconciliation)
    }

    /// Whether this job and `other` could touch the same kind.
    func overlaps(_ other: Job) -> Bool {
        allKinds || other.allKinds || !Set(kinds).isDisjoint(with: other.kinds)
    }
}

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
        case kind, resourceIndex, status, fetched, filtered, mapped, upserted, failed, misconfiguredFields, deleted
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

/// Job ids sort by creation time: a millisecond timestamp in base 36, then random digits.
enum JobID {
    static func make(now: Date) -> String {
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let time = String(milliseconds, radix: 36)
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "job_" + String(repeating: "0", count: max(0, 9 - time.count)) + time
            + String(repeating: "0", count: max(0, 7 - random.count)) + random
    }

    /// Whether `text` could be a job id (so bad input is told apart from an unknown job).
    static func isWellFormed(_ text: String) -> Bool {
        text.hasPrefix("job_") && text.count == 20 && text.dropFirst(4).allSatisfy { $0.isASCII && ($0.isNumber || $0.isLowercase) }
    }
}

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

extension Job {
    /// The job with every secret scrubbed from its messages (errors come from integrations and third
    /// parties, which may echo a token back).
    public func redacted(by redactor: SecretRedactor) -> Job {
        guard !redactor.isEmpty else { return self }
        // Runs on every progress update: read from `self` and write only what changed, so the
        // progress array is not copied when there is nothing to scrub.
        func scrubbed(_ text: String?) -> String? {
            guard let text else { return nil }
            let clean = redactor.redact(text)
            return clean == text ? nil : clean
        }
        var job = self
        if let clean = scrubbed(error) { job.error = clean }
        for (index, resource) in progress.enumerated() {
            if let clean = scrubbed(resource.error) { job.progress[index].error = clean }
            for (position, problem) in resource.errors.enumerated() {
                if let clean = scrubbed(problem) { job.progress[index].errors[position] = clean }
            }
        }
        for (index, outcome) in reconciliation.enumerated() {
            if let clean = scrubbed(outcome.skipped) { job.reconciliation[index].skipped = clean }
        }
        return job
    }
}

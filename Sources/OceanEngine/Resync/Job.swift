import OceanKit
public import Essentials
public import FoundationEssentials

/// A resync job as `GET /jobs` shows it: what it covers, who asked, where it stands, and per
/// resource how many records went where.
public struct Job: Sendable, Codable, Hashable {
    /// Where a job stands. Of the final ones: `succeeded` (nothing failed), `partial` (it finished,
    /// but some records or some kinds failed; reconciliation ran only where it was safe), `failed`
    /// (it could not run, or every kind failed), `cancelled`.
    public enum Status: String, Sendable, Codable, CaseIterable {
        case queued, running, succeeded, partial, failed, cancelled

        /// Finished one way or another.
        public var isFinal: Bool { self != .queued && self != .running }
    }

    public enum Trigger: String, Sendable, Codable, CaseIterable {
        /// `POST /resync`; `port`: Port asked (its "Resync" button or a saved mapping).
        case http, schedule, startup, webhook, cli, port
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
    /// Writes every entity, unchanged or not (`POST /resync?full=true`, `ocean resync --full`,
    /// every `OCEAN__RESYNC__FULL_EVERY`th job); otherwise what the last write left unchanged is not sent.
    public var fullWrite = false
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
        case reconciliation, fullWrite
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
        fullWrite = try container.decodeIfPresent(Bool.self, forKey: .fullWrite) ?? false
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
        try container.encode(fullWrite, forKey: .fullWrite)
    }

    /// Whether this job and `other` could touch the same kind.
    func overlaps(_ other: Job) -> Bool {
        allKinds || other.allKinds || !Set(kinds).isDisjoint(with: other.kinds)
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

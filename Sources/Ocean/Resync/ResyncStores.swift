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

    public init(merge: Bool, createMissingRelatedEntities: Bool, integrationIdentifier: String, jobID: String) {
        self.merge = merge
        self.createMissingRelatedEntities = createMissingRelatedEntities
        self.integrationIdentifier = integrationIdentifier
        self.jobID = jobID
    }
}

/// What one upsert call did.
public struct UpsertOutcome: Sendable, Hashable {
    public var upserted: Int
    /// Entities the destination refused, with why.
    public var failures: [(identifier: String, message: String)]

    public init(upserted: Int, failures: [(identifier: String, message: String)] = []) {
        self.upserted = upserted
        self.failures = failures
    }

    public static func == (lhs: UpsertOutcome, rhs: UpsertOutcome) -> Bool {
        lhs.upserted == rhs.upserted && lhs.failures.map(\.identifier) == rhs.failures.map(\.identifier)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(upserted)
        hasher.combine(failures.map(\.identifier))
    }
}

/// Where job history lives, so `GET /jobs` survives a restart.
///
/// Contract: `save` replaces the stored copy of a job (insert or update) and keeps at most `limit`
/// jobs, dropping the oldest finished ones; `load` returns the kept jobs, newest first.
public protocol JobStore: Sendable {
    func save(_ job: Job, limit: Int) async throws
    func load(limit: Int) async throws -> [Job]
}

/// A job store that keeps nothing across restarts (for `ocean resync` and tests that do not care).
public struct MemoryJobStore: JobStore {
    public init() {}
    public func save(_ job: Job, limit: Int) async throws {}
    public func load(limit: Int) async throws -> [Job] { [] }
}

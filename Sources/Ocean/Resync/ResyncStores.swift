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

/// What one upsert call did.
public struct UpsertOutcome: Sendable, Hashable {
    public var upserted: Int
    /// Entities the destination refused, with why.
    public var failures: [UpsertFailure]

    public init(upserted: Int, failures: [UpsertFailure] = []) {
        self.upserted = upserted
        self.failures = failures
    }
}

/// One entity the destination refused.
public struct UpsertFailure: Sendable, Hashable {
    public let blueprint: String
    public let identifier: String
    public let message: String

    public init(blueprint: String, identifier: String, message: String) {
        self.blueprint = blueprint
        self.identifier = identifier
        self.message = message
    }
}

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

/// Told when jobs start and finish (Port's resync state).
public protocol ResyncStateReporter: Sendable {
    func jobStarted(_ job: Job) async
    func jobFinished(_ job: Job) async
}

/// Where job history lives, so `GET /jobs` survives a restart.
///
/// Contract: `save` replaces the stored copy of a job (insert or update) and keeps at most `limit`
/// jobs, dropping the oldest finished ones; `load` returns the kept jobs, newest first.
public protocol JobStore: Sendable {
    func save(_ job: Job, limit: Int) async throws
    func load(limit: Int) async throws -> [Job]
}


/// What each job wrote, kept outside the destination so a destination that cannot tell (Port)
/// can still find the owned entities a job did not write, without holding them all in memory.
///
/// Contract: `record` remembers identifiers written by a job; `written` returns which of the given
/// identifiers the job wrote; `forget` drops a job's records.
public protocol WriteLog: Sendable {
    func record(jobID: String, blueprint: String, identifiers: [String]) async throws
    func written(jobID: String, blueprint: String, among identifiers: [String]) async throws -> Set<String>
    func forget(jobID: String) async throws
}

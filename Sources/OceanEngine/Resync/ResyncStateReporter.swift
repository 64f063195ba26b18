import OceanKit



/// Told how jobs go, as they go (Port's resync state, sync metrics and examples). Called from the
/// coordinator: an implementation must return at once (queue the work), never slow a job down.
public protocol ResyncStateReporter: Sendable {
    func jobStarted(_ job: Job) async
    /// The job's resources are known: its `progress` lists them, all queued.
    func resourcesPlanned(_ job: Job) async
    func resourceStarted(_ job: Job, position: Int) async
    /// `job.progress[position]` finished (its status says how).
    func resourceFinished(_ job: Job, position: Int) async
    /// Reconciliation ran: `job.reconciliation` says what it did.
    func reconciled(_ job: Job) async
    func jobFinished(_ job: Job) async
    /// How many raw records of each resource `examples` wants (0: none).
    var examplesWanted: Int { get }
    /// The first raw records (JSON texts) of `job.progress[position]`'s kind.
    func examples(_ records: [[UInt8]], job: Job, position: Int) async
}

extension ResyncStateReporter {
    public func resourcesPlanned(_ job: Job) async {}
    public func resourceStarted(_ job: Job, position: Int) async {}
    public func resourceFinished(_ job: Job, position: Int) async {}
    public func reconciled(_ job: Job) async {}
    public var examplesWanted: Int { 0 }
    public func examples(_ records: [[UInt8]], job: Job, position: Int) async {}
}

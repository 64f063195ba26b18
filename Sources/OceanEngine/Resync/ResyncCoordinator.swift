public import OceanKit
public import Essentials
public import FoundationEssentials
public import Logging
public import ServiceLifecycle

/// Queues, coalesces, runs and records resync jobs.
///
/// Rules:
/// - A request equal to a job that is still queued returns that job (coalesced); a one-kind request
///   while an all-kinds job is queued returns the all-kinds job.
/// - A running job is never aborted by a new request: the new one queues behind it. At most one
///   running job touches a kind at a time; jobs that touch different kinds may run side by side.
///   Queued jobs start in order for any kind they share.
/// - The resources of a job run concurrently, at most `maxConcurrentResources` at a time; one
///   failing resource does not stop the others (the job is then `failed`, each outcome visible).
/// - Cancellation is explicit (`cancel`), reaches the handlers cooperatively, and is recorded.
/// - History is bounded and written to a `JobStore`; jobs that were queued or running when the
///   process died are recorded as failed (interrupted) by the next `prepare()`.
///
/// As a `Service`, its jobs run inside `run()`, each a child task; on graceful shutdown it stops
/// taking jobs, cancels the queued and running ones and returns once they have stopped.
public actor ResyncCoordinator: Service {
    public struct Settings: Sendable {
        /// The integration's identifier (marks the entities it owns).
        public var integrationIdentifier: String
        /// Resources of one job running at once.
        public var maxConcurrentResources: Int
        /// Jobs kept in history.
        public var historyLimit: Int
        /// Batches per resource being mapped or written at once.
        public var maxBatchesInFlight: Int
        /// Where job and record counts go.
        public var metrics: EngineMetrics
        /// Secrets scrubbed from job errors before a job is shown or stored.
        public var redactor: SecretRedactor
        /// With digests: every how many jobs one writes everything, unchanged or not
        /// (`OCEAN__RESYNC__FULL_EVERY`; nil: only when asked).
        public var fullWriteEvery: Int?

        public init(
            integrationIdentifier: String, maxConcurrentResources: Int = 4, historyLimit: Int = 1000,
            maxBatchesInFlight: Int = 3, metrics: EngineMetrics = .none, redactor: SecretRedactor = SecretRedactor(),
            fullWriteEvery: Int? = 24
        ) {
            self.fullWriteEvery = fullWriteEvery
            self.integrationIdentifier = integrationIdentifier
            self.maxConcurrentResources = maxConcurrentResources
            self.historyLimit = historyLimit
            self.maxBatchesInFlight = maxBatchesInFlight
            self.metrics = metrics
            self.redactor = redactor
        }
    }

    let integration: OceanIntegration
    let integrationConfig: IntegrationConfig
    let mappingSource: any MappingSource
    let destination: ResyncDestination
    let store: any JobStore
    let pool: MappingPool
    let settings: Settings
    let logger: Logger
    let now: @Sendable () -> Date
    let stateReporter: (any ResyncStateReporter)?
    let recentChanges: RecentChanges?
    /// What was last written of each entity: unchanged ones are not sent again (nil: all are).
    let digests: (any WriteDigests)?

    /// Every job kept, by id, and their ids newest first.
    var jobsByID: [String: Job] = [:]
    private var newestFirst: [String] = []
    private var queue: [String] = []
    /// Running jobs, each with what cancels its work (its resources and reconciliation; the
    /// recording of its end is never cancelled).
    private var running: [String: Wakeup] = [:]
    /// Running jobs `run()` has taken (the others wait in `starts`).
    var started: Set<String> = []
    /// Jobs to start: `run()` takes them and runs each as a child task.
    private let starts: AsyncStream<String>
    private let startsContinuation: AsyncStream<String>.Continuation
    /// When each running job's progress was last stored.
    var progressSaved: [String: ContinuousClock.Instant] = [:]
    private var finishWaiters: [String: [CheckedContinuation<Job, Never>]] = [:]
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    /// The kinds of the mapping as last read, in mapping order.
    var knownMappingKinds: [String] = []
    var acceptingJobs = true

    /// `pool` maps every job's records (shared with the webhook dispatcher).
    public init(
        integration: OceanIntegration, integrationConfig: IntegrationConfig, mappingSource: any MappingSource,
        destination: ResyncDestination, store: any JobStore, pool: MappingPool, settings: Settings, logger: Logger,
        stateReporter: (any ResyncStateReporter)? = nil, recentChanges: RecentChanges? = nil, digests: (any WriteDigests)? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.digests = digests
        self.stateReporter = stateReporter
        self.recentChanges = recentChanges
        self.integration = integration
        self.integrationConfig = integrationConfig
        self.mappingSource = mappingSource
        self.destination = destination
        self.store = store
        self.pool = pool
        self.settings = settings
        self.logger = logger
        self.now = now
        (starts, startsContinuation) = AsyncStream.makeStream()
    }

    /// Loads the history, records interrupted jobs as failed, and learns the mapping's kinds. Jobs
    /// may be requested from then on; they start once `run()` runs.
    public func prepare() async throws {
        let stored = try await store.load(limit: settings.historyLimit)
        for var job in stored.reversed() {
            if !job.status.isFinal {
                job.status = .failed
                job.error = "interrupted: the service stopped before the job finished"
                job.finishedAt = job.finishedAt ?? now()
                for index in job.progress.indices where job.progress[index].status == .running || job.progress[index].status == .queued {
                    job.progress[index].status = .failed
                    job.progress[index].error = "interrupted"
                }
                try await store.save(job, limit: settings.historyLimit)
                logger.warning("job interrupted by a restart", metadata: ["job.id": "\(job.id)"])
            }
            remember(job)
        }
        if let mapping = try? await mappingSource.currentMapping() {
            knownMappingKinds = mapping.kinds
        }
    }

    /// Asks for a resync. Returns the job that will do it and whether it was an existing queued job.
    /// `full`: write every entity, unchanged or not (a queued job it joins becomes full).
    public func request(_ scope: Job.Scope, trigger: Job.Trigger, full: Bool = false) async throws(ResyncError) -> (job: Job, coalesced: Bool) {
        guard acceptingJobs else { throw ResyncError(.shuttingDown, "the service is shutting down") }
        if case .kind(let kind) = scope, !isKnown(kind) {
            throw ResyncError(.unknownKind, "no resync handler and no mapping resource for kind \"\(kind)\"; known kinds: \(knownKinds.joined(separator: ", "))")
        }
        for id in queue {
            guard let queued = jobsByID[id] else { continue }
            if queued.allKinds || queued.scope == scope {
                if full && !queued.fullWrite {
                    update(id) { $0.fullWrite = true }
                    if let upgraded = jobsByID[id] { await persist(upgraded) }
                }
                return (jobsByID[id] ?? queued, true)
            }
        }
        var job = Job(id: JobID.make(now: now()), scope: scope, trigger: trigger, createdAt: now())
        job.fullWrite = full || fullWriteDue
        // What an all-kinds job covers as far as known now; set again from the mapping when it starts.
        if job.allKinds { job.kinds = knownMappingKinds }
        remember(job)
        queue.append(job.id)
        await persist(job)
        logger.info("job queued", metadata: ["job.id": "\(job.id)", "job.trigger": "\(trigger.rawValue)", "job.scope": "\(scope)"])
        schedule()
        return (jobsByID[job.id] ?? job, false)
    }

    /// True when the last `fullWriteEvery - 1` jobs all left unchanged entities out: the next one
    /// writes everything (what was changed or deleted behind the service's back comes back).
    private var fullWriteDue: Bool {
        guard digests != nil, let every = settings.fullWriteEvery else { return false }
        var skipping = 0
        for id in newestFirst {
            guard let job = jobsByID[id], job.allKinds else { continue }
            if job.fullWrite { break }
            skipping += 1
            if skipping >= every - 1 { return true }
        }
        return false
    }

    /// The job with `id`, if kept.
    public func job(_ id: String) -> Job? {
        jobsByID[id]
    }

    /// Jobs newest first, filtered by status and kind.
    public func jobs(status: Job.Status? = nil, kind: String? = nil, limit: Int = 50) -> [Job] {
        var result: [Job] = []
        for id in newestFirst {
            guard let job = jobsByID[id] else { continue }
            if let status, job.status != status { continue }
            if let kind, !(job.kinds.contains(kind) || (job.allKinds && job.kinds.isEmpty)) { continue }
            result.append(job)
            if result.count >= limit { break }
        }
        return result
    }

    /// Cancels a queued or running job. A running job stops cooperatively; its status says
    /// `cancelled` once it has.
    public func cancel(_ id: String) async throws(ResyncError) -> Job {
        guard var job = jobsByID[id] else { throw ResyncError(.unknownJob, "no job \(id)") }
        guard !job.status.isFinal else {
            throw ResyncError(.alreadyFinished, "job \(id) already finished (\(job.status.rawValue))")
        }
        job.cancelRequested = true
        if job.status == .queued {
            queue.removeAll { $0 == id }
            jobsByID[id] = job
            job = await endUnstarted(id, reason: "cancelled before it started") ?? job
        } else {
            jobsByID[id] = job
            running[id]?.signal()
        }
        logger.info("job cancellation requested", metadata: ["job.id": "\(id)"])
        return job
    }

    /// Waits until the job has finished and returns it (nil for an unknown job).
    public func waitUntilFinished(_ id: String) async -> Job? {
        guard let job = jobsByID[id] else { return nil }
        if job.status.isFinal { return job }
        return await withCheckedContinuation { continuation in
            finishWaiters[id, default: []].append(continuation)
        }
    }

    /// Runs jobs until graceful shutdown (or cancellation, or `shutdown()`), then stops them.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                // Returns on graceful shutdown, throws when cancelled: stop either way.
                try? await gracefulShutdown()
                await self.shutdown()
            }
            for await id in starts {
                group.addTask { await self.runJob(id) }
            }
            group.cancelAll()
        }
    }

    /// Stops taking jobs, cancels the queued and running ones and waits until they have stopped;
    /// `run()` then returns.
    public func shutdown() async {
        acceptingJobs = false
        for id in queue {
            _ = try? await cancel(id)
        }
        for cancellation in running.values { cancellation.signal() }
        // Jobs `run()` never took (it is not running) end here.
        for id in running.keys where !started.contains(id) {
            await endUnstarted(id, reason: "cancelled: the service is shutting down")
        }
        if !running.isEmpty {
            await withCheckedContinuation { idleWaiters.append($0) }
        }
        startsContinuation.finish()
    }

    /// Records a job that never started as cancelled, and lets the next ones start.
    @discardableResult
    private func endUnstarted(_ id: String, reason: String) async -> Job? {
        guard var job = jobsByID[id] else { return nil }
        job.status = .cancelled
        job.error = reason
        job.finishedAt = now()
        jobsByID[id] = job
        await persist(job)
        ended(job)
        return job
    }

    // MARK: Scheduling

    private var knownKinds: [String] {
        Array(Set(knownMappingKinds).union(integration.kindsWithHandlers)).sorted()
    }

    private func isKnown(_ kind: String) -> Bool {
        knownMappingKinds.contains(kind) || integration.kindsWithHandlers.contains(kind)
    }

    /// Starts every queued job that shares no kind with a running job or an earlier queued one.
    private func schedule() {
        guard acceptingJobs else { return }
        var blocking = running.keys.compactMap { jobsByID[$0] }
        var stillQueued: [String] = []
        for id in queue {
            guard let job = jobsByID[id] else { continue }
            if blocking.contains(where: { $0.overlaps(job) }) {
                stillQueued.append(id)
            } else {
                running[id] = Wakeup()
                startsContinuation.yield(id)
            }
            blocking.append(job)
        }
        queue = stillQueued
        settings.metrics.jobsWaiting(queued: queue.count, running: running.count)
    }

    // MARK: Bookkeeping

    func update(_ id: String, _ change: (inout Job) -> Void) {
        guard var job = jobsByID[id] else { return }
        change(&job)
        // Messages come from integrations and third parties: scrub secrets before anyone sees them.
        jobsByID[id] = job.redacted(by: settings.redactor)
    }

    private func remember(_ job: Job) {
        if jobsByID.updateValue(job, forKey: job.id) == nil {
            newestFirst.insert(job.id, at: 0)
        }
        // Keep the history bounded: drop the oldest finished jobs.
        while newestFirst.count > settings.historyLimit,
              let oldest = newestFirst.lastIndex(where: { jobsByID[$0]?.status.isFinal == true }) {
            jobsByID[newestFirst.remove(at: oldest)] = nil
        }
    }

    func persist(_ job: Job) async {
        do {
            try await store.save(job, limit: settings.historyLimit)
        } catch {
            logger.error("saving the job failed", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
        }
    }

    /// A job ended: its waiters get it, and the next queued jobs may start.
    func ended(_ job: Job) {
        running[job.id] = nil
        started.remove(job.id)
        finished(job)
        schedule()
        if running.isEmpty {
            for waiter in idleWaiters { waiter.resume() }
            idleWaiters = []
        }
    }

    /// The cancellation of running job `id`.
    func cancellation(of id: String) -> Wakeup? {
        running[id]
    }

    private func finished(_ job: Job) {
        for waiter in finishWaiters.removeValue(forKey: job.id) ?? [] {
            waiter.resume(returning: job)
        }
    }
}

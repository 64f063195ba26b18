public import OceanKit
public import Essentials
public import FoundationEssentials
public import JQ
public import Logging

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
///   process died are recorded as failed (interrupted) at the next `start()`.
public actor ResyncCoordinator {
    public struct Settings: Sendable {
        /// The integration's identifier (marks the entities it owns).
        public var integrationIdentifier: String
        /// Resources of one job running at once.
        public var maxConcurrentResources: Int
        /// Jobs kept in history.
        public var historyLimit: Int
        /// Mapping threads per job.
        public var mappingWorkers: Int
        /// Batches per resource being mapped or written at once.
        public var maxBatchesInFlight: Int
        /// jq options (environment access).
        public var jqOptions: JQDialect.Options
        /// Where job and record counts go.
        public var metrics: EngineMetrics
        /// Secrets scrubbed from job errors before a job is shown or stored.
        public var redactor: SecretRedactor

        public init(
            integrationIdentifier: String, maxConcurrentResources: Int = 4, historyLimit: Int = 1000,
            mappingWorkers: Int = 2, maxBatchesInFlight: Int = 3, jqOptions: JQDialect.Options = .init(),
            metrics: EngineMetrics = .none, redactor: SecretRedactor = SecretRedactor()
        ) {
            self.integrationIdentifier = integrationIdentifier
            self.maxConcurrentResources = maxConcurrentResources
            self.historyLimit = historyLimit
            self.mappingWorkers = mappingWorkers
            self.maxBatchesInFlight = maxBatchesInFlight
            self.jqOptions = jqOptions
            self.metrics = metrics
            self.redactor = redactor
        }
    }

    private let integration: OceanIntegration
    private let integrationConfig: IntegrationConfig
    private let mappingSource: any MappingSource
    private let sink: any EntitySink
    private let store: any JobStore
    private let settings: Settings
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let stateReporter: (any ResyncStateReporter)?
    private let recentChanges: RecentChanges?

    /// Every job kept, by id, and their ids newest first.
    private var jobsByID: [String: Job] = [:]
    private var newestFirst: [String] = []
    private var queue: [String] = []
    /// Running jobs: the task that runs and records each. It is never cancelled, so a job's final
    /// state is stored even when the job is cancelled.
    private var running: [String: Task<Void, Never>] = [:]
    /// The cancellable part of each running job: its resources and reconciliation.
    private var working: [String: Task<Void, Never>] = [:]
    /// When each running job's progress was last stored.
    private var progressSaved: [String: ContinuousClock.Instant] = [:]
    private var finishWaiters: [String: [CheckedContinuation<Job, Never>]] = [:]
    /// The kinds of the mapping as last read, in mapping order.
    private var knownMappingKinds: [String] = []
    private var acceptingJobs = true

    public init(
        integration: OceanIntegration, integrationConfig: IntegrationConfig, mappingSource: any MappingSource,
        sink: any EntitySink, store: any JobStore, settings: Settings, logger: Logger,
        stateReporter: (any ResyncStateReporter)? = nil, recentChanges: RecentChanges? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.stateReporter = stateReporter
        self.recentChanges = recentChanges
        self.integration = integration
        self.integrationConfig = integrationConfig
        self.mappingSource = mappingSource
        self.sink = sink
        self.store = store
        self.settings = settings
        self.logger = logger
        self.now = now
    }

    /// Loads the history, records interrupted jobs as failed, and learns the mapping's kinds.
    public func start() async throws {
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
    public func request(_ scope: Job.Scope, trigger: Job.Trigger) async throws(ResyncError) -> (job: Job, coalesced: Bool) {
        guard acceptingJobs else { throw ResyncError(.shuttingDown, "the service is shutting down") }
        if case .kind(let kind) = scope, !isKnown(kind) {
            throw ResyncError(.unknownKind, "no resync handler and no mapping resource for kind \"\(kind)\"; known kinds: \(knownKinds.joined(separator: ", "))")
        }
        for id in queue {
            guard let queued = jobsByID[id] else { continue }
            if queued.allKinds || queued.scope == scope {
                return (queued, true)
            }
        }
        var job = Job(id: JobID.make(now: now()), scope: scope, trigger: trigger, createdAt: now())
        // What an all-kinds job covers as far as known now; set again from the mapping when it starts.
        if job.allKinds { job.kinds = knownMappingKinds }
        remember(job)
        queue.append(job.id)
        await persist(job)
        logger.info("job queued", metadata: ["job.id": "\(job.id)", "job.trigger": "\(trigger.rawValue)", "job.scope": "\(scope)"])
        schedule()
        return (jobsByID[job.id] ?? job, false)
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
            job.status = .cancelled
            job.error = "cancelled before it started"
            job.finishedAt = now()
            jobsByID[id] = job
            await persist(job)
            finished(job)
            schedule()
        } else {
            jobsByID[id] = job
            working[id]?.cancel()
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

    /// Stops taking jobs, cancels the queued and running ones and waits until they have stopped.
    public func shutdown() async {
        acceptingJobs = false
        for id in queue {
            _ = try? await cancel(id)
        }
        for task in working.values { task.cancel() }
        for task in Array(running.values) { await task.value }
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
                running[id] = Task { await self.run(id) }
            }
            blocking.append(job)
        }
        queue = stillQueued
        settings.metrics.jobsWaiting(queued: queue.count, running: running.count)
    }

    private func run(_ id: String) async {
        guard var job = jobsByID[id] else { return }
        job.status = .running
        job.startedAt = now()
        jobsByID[id] = job
        await persist(job)
        var jobLogger = logger
        jobLogger[metadataKey: "job.id"] = "\(id)"
        jobLogger.info("job started")
        recentChanges?.beginWatching(job: id, since: job.startedAt ?? now())
        await stateReporter?.jobStarted(job)
        let work = Task { await self.execute(id, logger: jobLogger) }
        working[id] = work
        await work.value
        working[id] = nil
        await finish(id, cancelled: work.isCancelled, logger: jobLogger)
    }

    /// What a job does: its resources, then reconciliation. Cancelling it stops this part only.
    private func execute(_ id: String, logger jobLogger: Logger) async {
        let mapping: PortAppConfig
        do {
            mapping = try await mappingSource.currentMapping()
            knownMappingKinds = mapping.kinds
        } catch {
            update(id) { $0.error = "the mapping could not be read: \(error)" }
            return
        }
        // What the integration owns before this job writes anything: the denominator of the
        // deletion threshold.
        var ownedBefore: [String: Int]?
        if let reconciler = sink as? any ReconcilingSink {
            do {
                ownedBefore = try await reconciler.ownedCounts(integration: settings.integrationIdentifier)
            } catch {
                jobLogger.warning("reading what the integration owns failed; no deletions in this job", metadata: ["error": "\(error)"])
            }
        }
        await runResources(of: id, mapping: mapping, logger: jobLogger)
        if let reconciler = sink as? any ReconcilingSink, !Task.isCancelled, jobsByID[id]?.cancelRequested == false,
           jobsByID[id]?.error == nil {
            await reconcile(id, mapping: mapping, ownedBefore: ownedBefore, reconciler: reconciler, logger: jobLogger)
        }
    }

    private func finish(_ id: String, cancelled: Bool, logger jobLogger: Logger) async {
        guard var done = jobsByID[id] else { return }
        done.finishedAt = now()
        if done.cancelRequested || cancelled {
            done.status = .cancelled
            done.error = done.error ?? (acceptingJobs ? "cancelled on request" : "cancelled: the service is shutting down")
        } else if done.error != nil || done.progress.contains(where: { $0.status != .succeeded }) {
            done.status = .failed
        } else {
            done.status = .succeeded
        }
        jobsByID[id] = done
        if let reconciler = sink as? any ReconcilingSink { await reconciler.finishJob(id) }
        await stateReporter?.jobFinished(done)
        running[id] = nil
        progressSaved[id] = nil
        recentChanges?.endWatching(job: id)
        await persist(done)
        jobLogger.info("job finished", metadata: ["job.status": "\(done.status.rawValue)"])
        if let startedAt = done.startedAt, let finishedAt = done.finishedAt {
            settings.metrics.jobFinished(status: done.status, duration: .milliseconds(Int64(finishedAt.timeIntervalSince(startedAt) * 1000)))
        }
        finished(done)
        schedule()
    }

    private func runResources(of id: String, mapping: PortAppConfig, logger: Logger) async {
        guard let job = jobsByID[id] else { return }
        let selected: [(index: Int, resource: ResourceConfig)]
        switch job.scope {
        case .allKinds: selected = mapping.resources.enumerated().map { (index: $0.offset, resource: $0.element) }
        case .kind(let kind): selected = mapping.resources(ofKind: kind)
        }
        var kinds: [String] = []
        for entry in selected where !kinds.contains(entry.resource.kind) { kinds.append(entry.resource.kind) }
        update(id) { job in
            if job.allKinds { job.kinds = kinds }
            job.progress = selected.map { ResourceProgress(kind: $0.resource.kind, resourceIndex: $0.index) }
        }
        guard !selected.isEmpty else {
            update(id) { $0.error = job.allKinds ? "the mapping has no resources" : "the mapping has no resource of kind \"\(job.kinds.first ?? "")\"" }
            return
        }

        // Compiling every program of a large mapping takes a while: not on the cooperative pool.
        let jqOptions = settings.jqOptions
        let (plan, issues) = await runOnOwnThread { MappingPlan.build(mapping, options: jqOptions) }
        let workers = MappingWorkers(plan: plan, count: settings.mappingWorkers)
        defer { workers.stop() }
        let options = UpsertOptions(
            merge: mapping.enableMergeEntity, createMissingRelatedEntities: mapping.createMissingRelatedEntities,
            integrationIdentifier: settings.integrationIdentifier, jobID: id)

        await withTaskGroup(of: Void.self) { group in
            var started = 0
            for (position, entry) in selected.enumerated() {
                if started >= settings.maxConcurrentResources {
                    await group.next()
                }
                started += 1
                let resourceIssues = issues.filter { $0.resourceIndex == entry.index }
                if !resourceIssues.isEmpty {
                    update(id) { job in
                        job.progress[position].status = .failed
                        job.progress[position].error = "the mapping of this resource is invalid: " + resourceIssues.map(\.description).joined(separator: "; ")
                    }
                    continue
                }
                var resourceLogger = logger
                resourceLogger[metadataKey: "resync.kind"] = "\(entry.resource.kind)"
                let pipeline = ResourcePipeline(
                    context: ResyncContext(kind: entry.resource.kind, resource: entry.resource, resourceIndex: entry.index,
                                           integrationConfig: integrationConfig, logger: resourceLogger, jobID: id),
                    handlers: integration.handlers(for: entry.resource.kind), workers: workers, sink: sink, options: options,
                    maxBatchesInFlight: settings.maxBatchesInFlight, recentChanges: recentChanges, jobStartedAt: job.startedAt ?? now(),
                    report: { delta in
                        await self.apply(delta, job: id, position: position)
                        await self.persistProgress(of: id)
                    })
                update(id) { job in
                    job.progress[position].status = .running
                    job.progress[position].startedAt = self.now()
                }
                group.addTask {
                    let outcome = await pipeline.run()
                    await self.finishResource(job: id, position: position, outcome: outcome)
                }
            }
        }
    }

    /// Deletes, per blueprint, the owned entities this job did not write, when it is safe: every
    /// resource of the mapping that could produce the blueprint ran in this job and finished
    /// cleanly (no failed records or entities), and the stale share of what was owned before stays
    /// within `entityDeletionThreshold`. Otherwise the blueprint is left alone and the reason recorded.
    private func reconcile(
        _ id: String, mapping: PortAppConfig, ownedBefore: [String: Int]?, reconciler: any ReconcilingSink, logger: Logger
    ) async {
        guard let job = jobsByID[id] else { return }
        let ran = Dictionary(job.progress.map { ($0.resourceIndex, $0) }, uniquingKeysWith: { first, _ in first })
        let constant = mapping.resources.map(MappingPlan.constantBlueprint(of:))
        var candidates = Set<String>()
        for (index, progress) in ran {
            if let blueprint = constant[index] { candidates.insert(blueprint) }
            candidates.formUnion(progress.blueprints.keys)
        }
        var outcomes: [BlueprintReconciliation] = []
        var stale: [String: [String]]?
        var listingError: (any Error)?
        for blueprint in candidates.sorted() {
            let upserted = ran.values.reduce(0) { $0 + ($1.blueprints[blueprint] ?? 0) }
            var outcome = BlueprintReconciliation(blueprint: blueprint, ownedBefore: ownedBefore?[blueprint] ?? 0, upserted: upserted)
            defer { outcomes.append(outcome) }
            guard let ownedBefore else {
                outcome.skipped = "what the integration owned before the job could not be read"
                settings.metrics.reconciliationSkipped(reason: "unknown")
                continue
            }
            // Every resource that produces this blueprint, or might (a computed blueprint), must have
            // run in this job and finished cleanly.
            var blockers: [String] = []
            for (index, resource) in mapping.resources.enumerated() where constant[index] == nil || constant[index] == blueprint {
                guard let progress = ran[index] else {
                    blockers.append("kind \(resource.kind) (resources[\(index)]) was not part of this job")
                    continue
                }
                if progress.status != .succeeded {
                    blockers.append("kind \(resource.kind) \(progress.status.rawValue)")
                } else if progress.failed > 0 {
                    blockers.append("kind \(resource.kind) had \(progress.failed) failed record\(progress.failed == 1 ? "" : "s")")
                }
            }
            guard blockers.isEmpty else {
                outcome.skipped = "not every resource producing it finished cleanly: " + blockers.joined(separator: "; ")
                settings.metrics.reconciliationSkipped(reason: "unclean")
                continue
            }
            do {
                // One listing of what the integration owns serves every blueprint.
                if stale == nil && listingError == nil {
                    do {
                        stale = try await reconciler.staleIdentifiers(blueprints: candidates, integration: settings.integrationIdentifier, jobID: id)
                    } catch {
                        listingError = error
                    }
                }
                if let listingError { throw listingError }
                // An entity a webhook wrote or deleted since the job started is newer than what the
                // job saw: never stale.
                // Claimed until deleted, so a webhook cannot write one of them in between.
                let startedAt = jobsByID[id]?.startedAt ?? now()
                let listed = stale?[blueprint] ?? []
                let claimed = recentChanges?.claim(blueprint: blueprint, identifiers: listed, since: startedAt)
                let stale = claimed?.identifiers ?? listed
                defer { if let claimed { recentChanges?.release(claimed.claim) } }
                outcome.stale = stale.count
                guard !stale.isEmpty else { continue }
                let owned = ownedBefore[blueprint] ?? 0
                if owned > 0, Double(stale.count) / Double(owned) > mapping.entityDeletionThreshold {
                    outcome.skipped = "deletion threshold exceeded: \(stale.count) of \(owned) owned entities are stale (entityDeletionThreshold \(mapping.entityDeletionThreshold))"
                    settings.metrics.reconciliationSkipped(reason: "threshold")
                    continue
                }
                outcome.deleted = try await reconciler.delete(
                    blueprint: blueprint, identifiers: stale, integration: settings.integrationIdentifier,
                    deleteDependents: mapping.deleteDependentEntities)
                logger.info("stale entities deleted", metadata: ["blueprint": "\(blueprint)", "count": "\(outcome.deleted)"])
            } catch {
                outcome.skipped = "reconciliation failed: \(error)"
                settings.metrics.reconciliationSkipped(reason: "failed")
                update(id) { $0.error = "reconciliation of \(blueprint) failed: \(error)" }
            }
        }
        update(id) { job in
            job.reconciliation = outcomes
            // A blueprint produced by one resource only: its deletions are that resource's.
            for outcome in outcomes where outcome.deleted > 0 {
                let producers = job.progress.indices.filter { (job.progress[$0].blueprints[outcome.blueprint] ?? 0) > 0 || constant[job.progress[$0].resourceIndex] == outcome.blueprint }
                if producers.count == 1 {
                    job.progress[producers[0]].deleted += outcome.deleted
                    self.settings.metrics.records(kind: job.progress[producers[0]].kind, deleted: outcome.deleted)
                }
            }
        }
    }

    /// Stores a running job's progress every few seconds, so a job interrupted by a crash keeps
    /// what it had counted.
    private func persistProgress(of id: String) async {
        let now = ContinuousClock.now
        if let last = progressSaved[id], now - last < .seconds(2) { return }
        progressSaved[id] = now
        if let job = jobsByID[id] { await persist(job) }
    }

    private func apply(_ delta: ProgressDelta, job id: String, position: Int) {
        if let kind = jobsByID[id]?.progress[position].kind {
            settings.metrics.records(kind: kind, fetched: delta.fetched, filtered: delta.filtered, upserted: delta.upserted, failed: delta.failed)
        }
        update(id) { job in
            job.progress[position].fetched += delta.fetched
            job.progress[position].filtered += delta.filtered
            job.progress[position].mapped += delta.mapped
            job.progress[position].upserted += delta.upserted
            job.progress[position].failed += delta.failed
            job.progress[position].misconfiguredFields += delta.misconfiguredFields
            for problem in delta.problems { job.progress[position].note(problem) }
            for (blueprint, count) in delta.upsertedByBlueprint { job.progress[position].blueprints[blueprint, default: 0] += count }
        }
    }

    private func finishResource(job id: String, position: Int, outcome: ResourcePipeline.Outcome) {
        update(id) { job in
            job.progress[position].finishedAt = self.now()
            switch outcome {
            case .succeeded: job.progress[position].status = .succeeded
            case .cancelled: job.progress[position].status = .cancelled
            case .failed(let message):
                job.progress[position].status = .failed
                job.progress[position].error = message
            }
        }
        if case .failed(let message) = outcome {
            logger.warning("resource failed", metadata: ["job.id": "\(id)", "resync.kind": "\(jobsByID[id]?.progress[position].kind ?? "")", "error": "\(message)"])
        }
    }

    // MARK: Bookkeeping

    private func update(_ id: String, _ change: (inout Job) -> Void) {
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

    private func persist(_ job: Job) async {
        do {
            try await store.save(job, limit: settings.historyLimit)
        } catch {
            logger.error("saving the job failed", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
        }
    }

    private func finished(_ job: Job) {
        for waiter in finishWaiters.removeValue(forKey: job.id) ?? [] {
            waiter.resume(returning: job)
        }
    }
}

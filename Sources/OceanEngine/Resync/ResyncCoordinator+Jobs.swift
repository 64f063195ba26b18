import OceanKit
import FoundationEssentials
import Logging

/// A job's life once it starts: its resources, then reconciliation, then its final state recorded.
extension ResyncCoordinator {
    /// Runs job `id` (a child task of `run()`): the work is cancelled by `cancel` or shutdown, the
    /// recording of its end is not, so a job's final state is stored even when it is cancelled.
    func runJob(_ id: String) async {
        guard var job = jobsByID[id], let cancellation = cancellation(of: id) else { return }
        started.insert(id)
        job.status = .running
        job.startedAt = now()
        jobsByID[id] = job
        await persist(job)
        var jobLogger = logger
        jobLogger[metadataKey: "job.id"] = "\(id)"
        jobLogger.info("job started")
        recentChanges?.beginWatching(job: id, since: job.startedAt ?? now())
        await stateReporter?.jobStarted(job)
        let workLogger = jobLogger
        let cancelled = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.execute(id, logger: workLogger)
                return false
            }
            group.addTask {
                await cancellation.wait()
                return true
            }
            // Whichever ends first: the work, or a cancellation (which then stops the work).
            let first = await group.next() ?? false
            group.cancelAll()
            await group.waitForAll()
            return first || Task.isCancelled
        }
        await finish(id, cancelled: cancelled, logger: jobLogger)
    }

    /// What a job does: its resources, then reconciliation.
    private func execute(_ id: String, logger jobLogger: Logger) async {
        let mapping: PortAppConfig
        do {
            mapping = try await mappingSource.mappingForJob()
            knownMappingKinds = mapping.kinds
        } catch {
            update(id) { $0.error = "the mapping could not be read: \(error)" }
            return
        }
        // What the integration owns before this job writes anything: the denominator of the
        // deletion threshold.
        var ownedBefore: OwnedEntities?
        if let reconciler = destination.reconciler {
            do {
                ownedBefore = try await reconciler.ownedAtStart(integration: settings.integrationIdentifier)
            } catch {
                jobLogger.warning("reading what the integration owns failed; no deletions in this job", metadata: ["error": "\(error)"])
            }
        }
        await runResources(of: id, mapping: mapping, logger: jobLogger)
        if let reconciler = destination.reconciler, !Task.isCancelled, jobsByID[id]?.cancelRequested == false,
           jobsByID[id]?.error == nil {
            await reconcile(id, mapping: mapping, ownedBefore: ownedBefore, reconciler: reconciler, logger: jobLogger)
            if let job = jobsByID[id] { await stateReporter?.reconciled(job) }
        }
    }

    private func finish(_ id: String, cancelled: Bool, logger jobLogger: Logger) async {
        guard var done = jobsByID[id] else { return }
        done.finishedAt = now()
        if done.cancelRequested || cancelled {
            done.status = .cancelled
            done.error = done.error ?? (acceptingJobs ? "cancelled on request" : "cancelled: the service is shutting down")
        } else {
            done.status = Self.outcome(of: done)
        }
        jobsByID[id] = done
        await destination.reconciler?.finishJob(id)
        await stateReporter?.jobFinished(done)
        progressSaved[id] = nil
        recentChanges?.endWatching(job: id)
        await persist(done)
        jobLogger.info("job finished", metadata: ["job.status": "\(done.status.rawValue)"])
        if let startedAt = done.startedAt, let finishedAt = done.finishedAt {
            settings.metrics.jobFinished(status: done.status, duration: .milliseconds(Int64(finishedAt.timeIntervalSince(startedAt) * 1000)))
        }
        ended(done)
    }

    func runResources(of id: String, mapping: PortAppConfig, logger: Logger) async {
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
        if let planned = jobsByID[id] { await stateReporter?.resourcesPlanned(planned) }
        guard !selected.isEmpty else {
            // An empty mapping (`resources: []`) asks for nothing: the job succeeds, and with no
            // resource run no blueprint is reconciled, so nothing is deleted.
            if job.allKinds {
                logger.info("the mapping has no resources: nothing to do")
            } else {
                update(id) { $0.error = "the mapping has no resource of kind \"\(job.kinds.first ?? "")\"" }
            }
            return
        }

        // Built once per mapping, off the cooperative pool, and shared with other jobs.
        let (plan, issues) = await pool.plan(for: mapping)
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
                    if let failed = jobsByID[id] { await stateReporter?.resourceFinished(failed, position: position) }
                    continue
                }
                var resourceLogger = logger
                resourceLogger[metadataKey: "resync.kind"] = "\(entry.resource.kind)"
                let pipeline = ResourcePipeline(
                    context: ResyncContext(kind: entry.resource.kind, resource: entry.resource, resourceIndex: entry.index,
                                           integrationConfig: integrationConfig, logger: resourceLogger, jobID: id),
                    handlers: integration.handlers(for: entry.resource.kind), pool: pool, plan: plan, sink: destination.sink, options: options,
                    maxBatchesInFlight: settings.maxBatchesInFlight, recentChanges: recentChanges, jobStartedAt: job.startedAt ?? now(),
                    report: { delta in
                        await self.apply(delta, job: id, position: position)
                        await self.persistProgress(of: id)
                    },
                    examplesWanted: stateReporter?.examplesWanted ?? 0,
                    examples: { records in await self.reportExamples(records, job: id, position: position) },
                    digests: digests, writer: EntityDigest.writerDigest(of: entry.resource, in: mapping) + "@" + destination.sink.destinationIdentity,
                    skipUnchanged: !job.fullWrite)
                update(id) { job in
                    job.progress[position].status = .running
                    job.progress[position].startedAt = self.now()
                }
                if let running = jobsByID[id] { await stateReporter?.resourceStarted(running, position: position) }
                group.addTask {
                    let outcome = await pipeline.run()
                    await self.finishResource(job: id, position: position, outcome: outcome)
                }
            }
        }
    }

    /// Stores a running job's progress every few seconds, so a job interrupted by a crash keeps
    /// what it had counted.
    func persistProgress(of id: String) async {
        let now = ContinuousClock.now
        if let last = progressSaved[id], now - last < .seconds(2) { return }
        progressSaved[id] = now
        if let job = jobsByID[id] { await persist(job) }
    }

    func apply(_ delta: ProgressDelta, job id: String, position: Int) {
        if let kind = jobsByID[id]?.progress[position].kind {
            settings.metrics.records(kind: kind, fetched: delta.fetched, filtered: delta.filtered, upserted: delta.upserted,
                                     unchanged: delta.unchanged, failed: delta.failed)
        }
        update(id) { job in
            job.progress[position].fetched += delta.fetched
            job.progress[position].filtered += delta.filtered
            job.progress[position].mapped += delta.mapped
            job.progress[position].upserted += delta.upserted
            job.progress[position].unchanged += delta.unchanged
            job.progress[position].failed += delta.failed
            job.progress[position].misconfiguredFields += delta.misconfiguredFields
            for problem in delta.problems { job.progress[position].note(problem) }
            for (blueprint, count) in delta.upsertedByBlueprint { job.progress[position].blueprints[blueprint, default: 0] += count }
        }
    }

    /// The final status of a finished job that was not cancelled: `failed` when it could not run
    /// (a job-level error before any resource ran) or every resource failed; `partial` when some
    /// resource, record or entity failed, or reconciliation did; else `succeeded`.
    static func outcome(of job: Job) -> Job.Status {
        if job.progress.isEmpty { return job.error == nil ? .succeeded : .failed }
        if job.progress.allSatisfy({ $0.status == .failed }) { return .failed }
        let troubled = job.error != nil || job.progress.contains { $0.status != .succeeded || $0.failed > 0 }
        return troubled ? .partial : .succeeded
    }

    func reportExamples(_ records: [[UInt8]], job id: String, position: Int) async {
        if let job = jobsByID[id] { await stateReporter?.examples(records, job: job, position: position) }
    }

    func finishResource(job id: String, position: Int, outcome: ResourcePipeline.Outcome) async {
        update(id) { job in
            job.progress[position].finishedAt = self.now()
            switch outcome {
            case .succeeded where job.progress[position].failed > 0 && job.progress[position].upserted == 0:
                // Ran to its end, but nothing of it was written: the kind failed (a fresh Port
                // organisation without the blueprint refuses every entity).
                job.progress[position].status = .failed
                job.progress[position].error = "every record or entity of it failed (\(job.progress[position].failed)); the first problems are in errors"
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
        if let job = jobsByID[id] { await stateReporter?.resourceFinished(job, position: position) }
    }
}

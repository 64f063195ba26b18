import OceanKit
import FoundationEssentials
import Logging

/// The counts one drained batch adds to a resource's progress.
struct ProgressDelta: Sendable {
    var fetched = 0
    var filtered = 0
    var mapped = 0
    var upserted = 0
    var unchanged = 0
    var failed = 0
    var misconfiguredFields = 0
    var problems: [String] = []
    /// Entities written, by blueprint (reconciliation needs to know which blueprints a run touched).
    var upsertedByBlueprint: [String: Int] = [:]
}

/// One resource of a job: the handlers' batches go to the mapping threads, mapped entities to the
/// sink, and the counts to the coordinator.
///
/// Back-pressure: at most `maxBatchesInFlight` batches are being mapped or written; the handler's
/// next batch is taken only when the oldest of them is done, so a slow sink slows the handler down
/// and memory stays flat whatever the number of records. Those batches are written concurrently,
/// so the destination's requests in flight stay full while a batch's last requests finish.
struct ResourcePipeline: Sendable {
    let context: ResyncContext
    let handlers: [OceanIntegration.ErasedHandler]
    let pool: MappingPool
    let plan: MappingPlan
    let sink: any EntitySink
    let options: UpsertOptions
    let maxBatchesInFlight: Int
    /// Entities webhooks changed since `jobStartedAt` are newer than this job's copy: not written.
    let recentChanges: RecentChanges?
    let jobStartedAt: Date
    let report: @Sendable (ProgressDelta) async -> Void
    /// How many of the first raw records go to `examples` (0: none), once, when that many are in
    /// or the handlers are done.
    var examplesWanted = 0
    var examples: @Sendable ([[UInt8]]) async -> Void = { _ in }
    /// What was last written of each entity; with `skipUnchanged`, an entity written the same last
    /// time (under the same `writer`) is not sent again.
    var digests: (any WriteDigests)?
    var writer = ""
    var skipUnchanged = false

    enum Outcome: Sendable {
        case succeeded
        case failed(String)
        case cancelled
    }

    func run() async -> Outcome {
        guard !handlers.isEmpty else {
            return .failed("no resync handler for kind \"\(context.kind)\"")
        }
        let state = PipelineState()
        do {
            for handler in handlers {
                try await handler(context) { batch in
                    try Task.checkCancellation()
                    var batch = batch
                    batch.renumber(from: state.fetched)
                    state.fetched += batch.count
                    if state.examples.count < examplesWanted {
                        for range in batch.ranges.prefix(examplesWanted - state.examples.count) { state.examples.append(Array(batch.bytes[range])) }
                        if state.examples.count == examplesWanted { await examples(state.examples) }
                    }
                    let pool = self.pool, plan = self.plan, resourceIndex = context.resourceIndex
                    state.inFlight.append(Task {
                        let mapped = await pool.map(batch, plan: plan, resources: [resourceIndex], problemLimit: ResourceProgress.errorLimit)
                        return await self.write(mapped)
                    })
                    if state.inFlight.count >= maxBatchesInFlight {
                        try await drainOne(state)
                    }
                }
            }
            while !state.inFlight.isEmpty {
                try await drainOne(state)
            }
            if !state.examples.isEmpty && state.examples.count < examplesWanted { await examples(state.examples) }
            try Task.checkCancellation()
            return .succeeded
        } catch {
            if error is CancellationError || Task.isCancelled {
                for task in state.inFlight { task.cancel() }
                for task in state.inFlight { _ = await task.value }
                return .cancelled
            }
            if let sinkError = error as? SinkFailure {
                for task in state.inFlight { _ = await task.value }
                return .failed("writing to the \(sink.name) failed: \(sinkError.underlying)")
            }
            // The handler failed: what it fetched before is still good data, so it is written.
            let handlerMessage = "the \"\(context.kind)\" handler failed: \(error)"
            do {
                while !state.inFlight.isEmpty { try await drainOne(state) }
            } catch let sinkError as SinkFailure {
                for task in state.inFlight { _ = await task.value }
                return .failed(handlerMessage + "; then writing to the \(sink.name) failed: \(sinkError.underlying)")
            } catch {
                for task in state.inFlight { _ = await task.value }
            }
            return .failed(handlerMessage)
        }
    }

    /// What writing one mapped batch gave: its counts, and the sink's failure when it failed as a whole.
    struct BatchOutcome: Sendable {
        var delta: ProgressDelta
        var sinkFailure: SinkFailure?
    }

    /// Reports the oldest batch in flight once it is written (in order, whatever order they finish in).
    private func drainOne(_ state: PipelineState) async throws {
        let outcome = await state.inFlight.removeFirst().value
        await report(outcome.delta)
        if let failure = outcome.sinkFailure { throw failure }
    }

    /// Writes one mapped batch: what changed (or everything, without digests) goes to the sink.
    private func write(_ result: MappingResult) async -> BatchOutcome {
        var delta = ProgressDelta()
        delta.fetched = result.records
        delta.filtered = result.filteredOut
        delta.mapped = result.entities.count
        delta.failed = result.failed
        delta.misconfiguredFields = result.misconfiguredFields
        delta.problems = result.problems.map(\.description)
        var entities = result.entities
        // What webhooks changed since the job started is newer than this copy: not written. The
        // rest is claimed until written, so a webhook cannot change it in between.
        let claim = recentChanges?.claim(entities, since: jobStartedAt)
        if let claim { entities = claim.entities }
        if !entities.isEmpty {
            let outcome: UpsertOutcome
            var sent = entities
            var digested: [String] = []
            do {
                if let digests {
                    digested = entities.map { EntityDigest.of($0, writer: writer) }
                    if skipUnchanged {
                        let (changed, unchanged) = try await partition(entities, digested, digests)
                        let missing = try await sink.confirmUnchanged(unchanged, options: options)
                        let missingKeys = Set(missing.map { MappedKey($0.blueprint, $0.identifier) })
                        delta.unchanged = unchanged.count - missing.count
                        for entity in unchanged where !missingKeys.contains(MappedKey(entity.blueprint, entity.identifier)) {
                            delta.upsertedByBlueprint[entity.blueprint, default: 0] += 1
                        }
                        sent = changed + missing
                    }
                }
                outcome = sent.isEmpty ? UpsertOutcome(upserted: 0) : try await sink.upsert(sent, options: options)
            } catch {
                if let claim { recentChanges?.release(claim) }
                return BatchOutcome(delta: delta, sinkFailure: SinkFailure(underlying: error))
            }
            if let claim { recentChanges?.release(claim) }
            delta.upserted = outcome.upserted
            delta.failed += outcome.failures.count
            delta.problems += outcome.failures.map { "entity \($0.blueprint)/\($0.identifier): \($0.message)" }
            for entity in sent { delta.upsertedByBlueprint[entity.blueprint, default: 0] += 1 }
            for failure in outcome.failures { delta.upsertedByBlueprint[failure.blueprint, default: 0] -= 1 }
            if let digests, !sent.isEmpty {
                await remember(sent, entities: entities, digested: digested, failures: outcome.failures, in: digests)
            }
        }
        return BatchOutcome(delta: delta)
    }

    /// `entities` split into those to send and those whose last write was the same. An entity with
    /// a search identifier is always sent: what it matches is Port's to say.
    private func partition(
        _ entities: [MappedEntity], _ digested: [String], _ digests: any WriteDigests
    ) async throws -> (changed: [MappedEntity], unchanged: [MappedEntity]) {
        var byBlueprint: [String: [Int]] = [:]
        for (index, entity) in entities.enumerated() where !entity.identifier.hasPrefix("{") {
            byBlueprint[entity.blueprint, default: []].append(index)
        }
        var isUnchanged = [Bool](repeating: false, count: entities.count)
        for (blueprint, indexes) in byBlueprint {
            let stored = try await digests.digests(integration: options.integrationIdentifier, blueprint: blueprint,
                                                   identifiers: indexes.map { entities[$0].identifier })
            for index in indexes where stored[entities[index].identifier] == digested[index] { isUnchanged[index] = true }
        }
        var changed: [MappedEntity] = []
        var unchanged: [MappedEntity] = []
        for (index, entity) in entities.enumerated() {
            if isUnchanged[index] { unchanged.append(entity) } else { changed.append(entity) }
        }
        return (changed, unchanged)
    }

    /// Records the digests of what was written; forgets those of what was refused (sent again next time).
    private func remember(
        _ sent: [MappedEntity], entities: [MappedEntity], digested: [String], failures: [UpsertFailure], in digests: any WriteDigests
    ) async {
        var digestOf: [MappedKey: String] = [:]
        for (index, entity) in entities.enumerated() { digestOf[MappedKey(entity.blueprint, entity.identifier)] = digested[index] }
        let refused = Set(failures.map { MappedKey($0.blueprint, $0.identifier) })
        var written: [String: [(identifier: String, digest: String)]] = [:]
        var dropped: [String: [String]] = [:]
        for entity in sent where !entity.identifier.hasPrefix("{") {
            let key = MappedKey(entity.blueprint, entity.identifier)
            if refused.contains(key) {
                dropped[entity.blueprint, default: []].append(entity.identifier)
            } else if let digest = digestOf[key] {
                written[entity.blueprint, default: []].append((entity.identifier, digest))
            }
        }
        do {
            for (blueprint, entries) in written {
                try await digests.record(integration: options.integrationIdentifier, blueprint: blueprint, digests: entries)
            }
            for (blueprint, identifiers) in dropped {
                try await digests.forget(integration: options.integrationIdentifier, blueprint: blueprint, identifiers: identifiers)
            }
        } catch {
            // Not recorded: the next job sends them again, which is only slower.
            context.logger.warning("recording what was written failed; the next job writes these entities again", metadata: ["error": "\(error)"])
        }
    }

    struct SinkFailure: Error {
        let underlying: any Error
    }
}

/// The mutable state of one pipeline run; used only from the handler's own task.
private final class PipelineState {
    var fetched = 0
    var inFlight: [Task<ResourcePipeline.BatchOutcome, Never>] = []
    var examples: [[UInt8]] = []
}

import Essentials
import Foundation
import OceanKit
import OceanEngine
import OceanCatalog
import Testing

@Suite("Resync coordinator")
struct ResyncCoordinatorTests {
    @Test("requests coalesce into the queued job; a one-kind request joins a queued all-kinds job")
    func coalescing() async throws {
        let gate = Gate()
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ in Pages(prefix: "a", pages: 1, size: 3, gate: gate) }
        ocean.onResync(kind: "b") { _ in Pages(prefix: "b", pages: 1, size: 2) }
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a", "b"]), catalog: try temporaryCatalog())
        try await coordinator.start()

        let (first, firstCoalesced) = try await coordinator.request(.allKinds, trigger: .http)
        #expect(!firstCoalesced)
        try await eventually("the first job to run") { await coordinator.job(first.id)?.status == .running }
        let (second, secondCoalesced) = try await coordinator.request(.allKinds, trigger: .http)
        let (third, thirdCoalesced) = try await coordinator.request(.allKinds, trigger: .schedule)
        let (fourth, fourthCoalesced) = try await coordinator.request(.kind("b"), trigger: .http)
        #expect(second.id != first.id && !secondCoalesced)
        #expect(third.id == second.id && thirdCoalesced)
        #expect(fourth.id == second.id && fourthCoalesced)
        #expect(await coordinator.job(second.id)?.status == .queued)
        gate.open()
        let done = try #require(await coordinator.waitUntilFinished(second.id))
        #expect(done.status == .succeeded)
        #expect(await coordinator.jobs().count == 2)
    }

    @Test("a secret that an integration's error echoes is masked in the job, as shown and as stored")
    func secretsMasked() async throws {
        struct EchoingFailure: Error, CustomStringConvertible {
            var description: String { "401 for token tok-0123456789" }
        }
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ -> Pages in throw EchoingFailure() }
        ocean.onResync(kind: "b") { _ in Pages(prefix: "b", pages: 1, size: 2) }
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a", "b"]), catalog: catalog,
                                          redactor: SecretRedactor(["tok-0123456789"]))
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
        let done = try #require(await coordinator.waitUntilFinished(job.id))
        let failed = try #require(done.progress.first { $0.kind == "a" })
        #expect(failed.status == .failed)
        #expect(failed.error?.contains("401 for token [REDACTED]") == true)
        let stored = try #require(try await catalog.load(limit: 10).first { $0.id == job.id })
        for shown in [done, stored] {
            let text = String(decoding: try JSONEncoder().encode(shown), as: UTF8.self)
            #expect(!text.contains("tok-0123456789"))
        }
    }

    @Test("a running job is never aborted by a new request: it finishes, then the new one runs")
    func noImplicitAbort() async throws {
        let gate = Gate()
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ in Pages(prefix: "a", pages: 4, size: 25, gate: gate) }
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a"]), catalog: catalog)
        try await coordinator.start()
        let (running, _) = try await coordinator.request(.allKinds, trigger: .startup)
        try await eventually("running") { await coordinator.job(running.id)?.status == .running }
        let (next, _) = try await coordinator.request(.kind("a"), trigger: .http)
        #expect(await coordinator.job(next.id)?.status == .queued)
        gate.open()
        let first = try #require(await coordinator.waitUntilFinished(running.id))
        #expect(first.status == .succeeded)
        #expect(first.progress[0].upserted == 100)
        let second = try #require(await coordinator.waitUntilFinished(next.id))
        #expect(second.status == .succeeded)
        #expect(try #require(second.startedAt) >= (first.finishedAt ?? .distantFuture))
        #expect(try await catalog.entityCount(blueprint: "a") == 100)
    }

    @Test("at most one running job touches a kind; jobs of other kinds run alongside")
    func oneJobPerKind() async throws {
        let gateA = Gate()
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ in Pages(prefix: "a", pages: 1, size: 1, gate: gateA) }
        ocean.onResync(kind: "b") { _ in Pages(prefix: "b", pages: 1, size: 1) }
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a", "b"]), catalog: try temporaryCatalog())
        try await coordinator.start()
        let (jobA, _) = try await coordinator.request(.kind("a"), trigger: .http)
        try await eventually("a running") { await coordinator.job(jobA.id)?.status == .running }
        let (jobB, _) = try await coordinator.request(.kind("b"), trigger: .http)
        let b = try #require(await coordinator.waitUntilFinished(jobB.id))
        #expect(b.status == .succeeded)
        #expect(await coordinator.job(jobA.id)?.status == .running)
        let (secondA, coalesced) = try await coordinator.request(.kind("a"), trigger: .http)
        #expect(!coalesced)
        try await Task.sleep(for: .milliseconds(50))
        #expect(await coordinator.job(secondA.id)?.status == .queued)
        let (all, _) = try await coordinator.request(.allKinds, trigger: .http)
        #expect(await coordinator.job(all.id)?.status == .queued)
        gateA.open()
        #expect(await coordinator.waitUntilFinished(secondA.id)?.status == .succeeded)
        #expect(await coordinator.waitUntilFinished(all.id)?.status == .succeeded)
    }

    @Test("the resources of a job run concurrently, at most the configured number at once")
    func concurrencyBound() async throws {
        let kinds = (1...6).map { "k\($0)" }
        let tracker = Concurrency()
        let ocean = OceanIntegration(type: "test")
        ocean.onResync { kind, _ in
            await tracker.enter(kind)
            try await Task.sleep(for: .milliseconds(100))
            await tracker.leave()
            return Pages(prefix: kind, pages: 1, size: 2)
        }
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: kinds), catalog: try temporaryCatalog(),
                                          maxConcurrentResources: 2)
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
        let done = try #require(await coordinator.waitUntilFinished(job.id))
        #expect(done.status == .succeeded)
        #expect(await tracker.maximum == 2)
        #expect(Set(await tracker.started) == Set(kinds))
        #expect(done.progress.map(\.upserted) == Array(repeating: 2, count: 6))
    }

    @Test("cancellation reaches the handler's sequence and is recorded")
    func cancellation() async throws {
        let sawCancellation = Gate()
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "slow") { context in endlessPages(context, then: sawCancellation) }
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["slow"]), catalog: catalog)
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
        try await eventually("some progress") { (await coordinator.job(job.id)?.progress.first?.upserted ?? 0) > 0 }
        let cancelling = try await coordinator.cancel(job.id)
        #expect(cancelling.cancelRequested)
        let done = try #require(await coordinator.waitUntilFinished(job.id))
        #expect(done.status == .cancelled)
        #expect(done.progress[0].status == .cancelled)
        #expect(done.error == "cancelled on request")
        await sawCancellation.wait()
        // The final state is stored too: a restart reads "cancelled", not "failed: interrupted".
        let stored = try #require(try await catalog.load(limit: 10).first { $0.id == job.id })
        #expect(stored.status == .cancelled)
        #expect(stored.error == "cancelled on request")
        #expect(stored.progress[0].upserted > 0)
        await #expect(throws: ResyncError(.alreadyFinished, "job \(job.id) already finished (cancelled)")) {
            _ = try await coordinator.cancel(job.id)
        }
        await #expect(throws: ResyncError.self) { _ = try await coordinator.cancel("job_doesnotexist0000") }
    }

    @Test("a job stopped by shutdown is stored as cancelled, and reads so after a restart")
    func shutdownStoresCancelled() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "slow") { context in endlessPages(context) }
        let catalog = try temporaryCatalog()
        let mapping = try simpleMapping(kinds: ["slow"])
        let coordinator = makeCoordinator(ocean, mapping: mapping, catalog: catalog)
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
        try await eventually("some progress") { (await coordinator.job(job.id)?.progress.first?.upserted ?? 0) > 0 }
        await coordinator.shutdown()
        let restarted = makeCoordinator(ocean, mapping: mapping, catalog: catalog)
        try await restarted.start()
        let reread = try #require(await restarted.job(job.id))
        #expect(reread.status == .cancelled)
        #expect(reread.error == "cancelled: the service is shutting down")
    }

    @Test("a queued job can be cancelled before it starts")
    func cancelQueued() async throws {
        let gate = Gate()
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ in Pages(prefix: "a", pages: 1, size: 1, gate: gate) }
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a"]), catalog: try temporaryCatalog())
        try await coordinator.start()
        let (running, _) = try await coordinator.request(.allKinds, trigger: .http)
        try await eventually("running") { await coordinator.job(running.id)?.status == .running }
        let (queued, _) = try await coordinator.request(.allKinds, trigger: .http)
        let cancelled = try await coordinator.cancel(queued.id)
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.startedAt == nil)
        gate.open()
        #expect(await coordinator.waitUntilFinished(running.id)?.status == .succeeded)
    }

    @Test("one failing kind does not stop the others; the job is partial with each outcome visible")
    func failingKind() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "good") { _ in Pages(prefix: "good", pages: 3, size: 10) }
        ocean.onResync(kind: "bad") { _ in Pages(prefix: "bad", pages: 3, size: 10, failAfter: 1) }
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["good", "bad", "orphan"]), catalog: catalog)
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
        let done = try #require(await coordinator.waitUntilFinished(job.id))
        #expect(done.status == .partial)
        let good = try #require(done.progress.first { $0.kind == "good" })
        let bad = try #require(done.progress.first { $0.kind == "bad" })
        let orphan = try #require(done.progress.first { $0.kind == "orphan" })
        #expect(good.status == .succeeded && good.upserted == 30)
        #expect(bad.status == .failed && bad.upserted == 10)
        #expect(bad.error?.contains("third-party API answered 500") == true)
        #expect(orphan.status == .failed)
        #expect(orphan.error == "no resync handler for kind \"orphan\"")
        #expect(try await catalog.entityCount(blueprint: "good") == 30)
    }

    @Test("records that are not objects are counted as failed with a clear error; the rest goes on")
    func nonObjects() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "mixed") { _ in
            SinglePage(records: [.number(1), .object(["id": .string("ok"), "name": .string("fine")]), .string("x"), .array([])])
        }
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["mixed"]), catalog: try temporaryCatalog())
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
        let done = try #require(await coordinator.waitUntilFinished(job.id))
        let progress = done.progress[0]
        #expect(progress.fetched == 4)
        #expect(progress.upserted == 1)
        #expect(progress.failed == 3)
        #expect(progress.errors.count == 3)
        #expect(progress.errors[0] == "record 0: a record must be a JSON object, got number")
        #expect(progress.errors[1] == "record 2: a record must be a JSON object, got string")
    }

    @Test("history is bounded, and kept in the store")
    func historyBound() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ in Pages(prefix: "a", pages: 1, size: 1) }
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a"]), catalog: catalog, historyLimit: 3)
        try await coordinator.start()
        var ids: [String] = []
        for _ in 0..<5 {
            let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
            _ = await coordinator.waitUntilFinished(job.id)
            ids.append(job.id)
        }
        #expect(await coordinator.jobs(limit: 100).map(\.id) == ids.suffix(3).reversed())
        #expect(try await catalog.load(limit: 100).map(\.id) == ids.suffix(3).reversed())
        #expect(await coordinator.job(ids[0]) == nil)
    }

    @Test("jobs that were running when the process stopped show failed (interrupted) after a restart")
    func interruptedAfterRestart() async throws {
        let gate = Gate()
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ in Pages(prefix: "a", pages: 1, size: 1, gate: gate) }
        let catalog = try temporaryCatalog()
        let mapping = try simpleMapping(kinds: ["a"])
        let before = makeCoordinator(ocean, mapping: mapping, catalog: catalog)
        try await before.start()
        let (job, _) = try await before.request(.allKinds, trigger: .http)
        try await eventually("running") { await before.job(job.id)?.status == .running }
        let (queued, _) = try await before.request(.allKinds, trigger: .http)

        // A new coordinator on the same store, as after a crash: the old one never finishes its jobs.
        let after = makeCoordinator(ocean, mapping: mapping, catalog: catalog)
        try await after.start()
        for id in [job.id, queued.id] {
            let restored = try #require(await after.job(id))
            #expect(restored.status == .failed)
            #expect(restored.error?.hasPrefix("interrupted") == true)
            #expect(restored.finishedAt != nil)
        }
        #expect(try await catalog.load(limit: 10).allSatisfy { $0.status == .failed })
        gate.open()
    }

    @Test("an unknown kind is refused; a mapping kind without its own handler is known")
    func unknownKind() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ in Pages(prefix: "a", pages: 1, size: 1) }
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a", "mapped-only"]), catalog: try temporaryCatalog())
        try await coordinator.start()
        await #expect(throws: ResyncError.self) { _ = try await coordinator.request(.kind("nope"), trigger: .http) }
        let (job, _) = try await coordinator.request(.kind("mapped-only"), trigger: .http)
        let done = try #require(await coordinator.waitUntilFinished(job.id))
        #expect(done.status == .failed)
        #expect(done.progress.first?.error == "no resync handler for kind \"mapped-only\"")
    }

    @Test("shutdown cancels running and queued jobs and takes no new ones")
    func shutdown() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ in
            AsyncThrowingStream<[JSON], any Error> { continuation in
                let task = Task {
                    while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
                    continuation.finish(throwing: CancellationError())
                }
                continuation.onTermination = { _ in task.cancel() }
            }
        }
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a"]), catalog: try temporaryCatalog())
        try await coordinator.start()
        let (running, _) = try await coordinator.request(.allKinds, trigger: .http)
        try await eventually("running") { await coordinator.job(running.id)?.status == .running }
        let (queued, _) = try await coordinator.request(.allKinds, trigger: .http)
        await coordinator.shutdown()
        #expect(await coordinator.job(running.id)?.status == .cancelled)
        #expect(await coordinator.job(running.id)?.error == "cancelled: the service is shutting down")
        #expect(await coordinator.job(queued.id)?.status == .cancelled)
        await #expect(throws: ResyncError.self) { _ = try await coordinator.request(.allKinds, trigger: .http) }
    }

    @Test("mergeBatches pulls from every sequence and stops them when the consumer stops")
    func merge() async throws {
        let merged = mergeBatches([Pages(prefix: "x", pages: 3, size: 2), Pages(prefix: "y", pages: 2, size: 2)])
        var identifiers: [String] = []
        for try await batch in merged {
            identifiers += batch.compactMap { $0.objectValue?["id"]?.stringValue }
        }
        #expect(identifiers.count == 10)
        #expect(Set(identifiers) == Set((0..<6).map { "x-\($0)" } + (0..<4).map { "y-\($0)" }))

        let endless = AsyncStream<Int> { continuation in
            let task = Task { var n = 0; while !Task.isCancelled { continuation.yield(n); n += 1; try? await Task.sleep(for: .milliseconds(1)) }; continuation.finish() }
            continuation.onTermination = { _ in task.cancel() }
        }
        var taken = 0
        for try await _ in mergeBatches([endless]) {
            taken += 1
            if taken == 5 { break }
        }
        #expect(taken == 5)
    }
}

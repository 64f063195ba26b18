import Foundation
import Logging
import OceanCatalog
import OceanEngine
import OceanKit
import Testing

/// Handlers in the push form (`{ context, send in ... }`): Ocean's generators, with branches and
/// state and no iterator of their own.
@Suite("Push-form resync handlers")
struct PushHandlerTests {
    @Test("a handler with branches and state sends its pages; every record is mapped and written")
    func branchesAndState() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { context, send in
            var cursor: Int? = 0
            while let page = cursor {
                try await send(records("a", page * 10..<(page + 1) * 10))
                cursor = page < 4 ? page + 1 : nil
            }
        }
        // One handler for every other kind; one branch sends raw JSON text, one sends nothing.
        ocean.onResync { kind, _, send in
            if kind == "b" {
                var batch = RecordBatch()
                for index in 0..<3 {
                    let start = batch.bytes.count
                    batch.bytes += Array(#"{"id":"b-\#(index)","name":"B"}"#.utf8)
                    batch.ranges.append(start..<batch.bytes.count)
                    batch.indexes.append(index)
                }
                try await send(batch)
            }
        }
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a", "b", "c"]), catalog: catalog)
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
        let done = try #require(await coordinator.waitUntilFinished(job.id))
        #expect(done.status == .succeeded, "\(done)")
        #expect(done.progress.map(\.upserted) == [50, 3, 0])
        #expect(try await catalog.entityCount(blueprint: "a") == 50)
        #expect(try await catalog.entityCount(blueprint: "b") == 3)
        await coordinator.shutdown()
    }

    @Test("send waits while the pipeline is busy: the handler is never far ahead of the writes")
    func backPressure() async throws {
        let catalog = try temporaryCatalog()
        let ahead = Concurrency()
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _, send in
            for page in 0..<12 {
                try await send(records("a", page * 5..<(page + 1) * 5))
                let written = try await catalog.entityCount(blueprint: "a") / 5
                await ahead.enter("\(page + 1 - written)")
            }
        }
        var logger = Logger(label: "test.push")
        logger.logLevel = .critical
        let coordinator = ResyncCoordinator(
            integration: ocean, integrationConfig: IntegrationConfig(), mappingSource: FixedMapping(try simpleMapping(kinds: ["a"])),
            destination: .reconciling(SlowSink(catalog: catalog, delay: .milliseconds(20))), store: catalog, pool: testPool,
            settings: .init(integrationIdentifier: "test", maxBatchesInFlight: 2), logger: logger)
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
        let done = try #require(await coordinator.waitUntilFinished(job.id))
        #expect(done.status == .succeeded, "\(done)")
        // Pages sent but not yet written, after each send: at most the batches in flight.
        let leads = await ahead.started.compactMap(Int.init)
        #expect(leads.count == 12)
        #expect(leads.allSatisfy { $0 <= 2 }, "\(leads)")
        await coordinator.shutdown()
    }

    @Test("a cancelled job stops a handler that would send forever: send throws")
    func cancellation() async throws {
        let stopped = Gate()
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _, send in
            var page = 0
            do {
                while true {
                    try await send(records("a", page * 10..<(page + 1) * 10))
                    page += 1
                }
            } catch {
                stopped.open()
                throw error
            }
        }
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a"]), catalog: try temporaryCatalog())
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
        try await eventually("records to flow") { (await coordinator.job(job.id)?.progress.first?.upserted ?? 0) > 0 }
        _ = try await coordinator.cancel(job.id)
        await stopped.wait()
        let done = try #require(await coordinator.waitUntilFinished(job.id))
        #expect(done.status == .cancelled)
        #expect(done.progress[0].status == .cancelled)
        await coordinator.shutdown()
    }
}

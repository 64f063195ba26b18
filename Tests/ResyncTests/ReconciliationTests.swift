import Essentials
import Foundation
import OceanKit
import OceanEngine
import OceanCatalog
import Testing

/// Stale entities deleted after a job, in the embedded catalog, with the guard rails.
@Suite("Reconciliation in the catalog")
struct ReconciliationTests {
    /// An integration whose kinds yield `count[kind]` records, read at each run.
    final class Source: Sendable {
        let counts: Locked<[String: Int]>
        let failing: Locked<Set<String>>

        init(_ counts: [String: Int]) {
            self.counts = Locked(counts)
            failing = Locked([])
        }

        func integration() -> OceanIntegration {
            let ocean = OceanIntegration(type: "test")
            ocean.onResync { kind, _ in
                let count = self.counts.withLock { $0[kind] ?? 0 }
                let fails = self.failing.withLock { $0.contains(kind) }
                return Pages(prefix: kind, pages: 1, size: count, failAfter: fails ? 0 : nil)
            }
            return ocean
        }
    }

    func run(_ coordinator: ResyncCoordinator, _ scope: Job.Scope = .allKinds) async throws -> Job {
        let (job, _) = try await coordinator.request(scope, trigger: .http)
        return try #require(await coordinator.waitUntilFinished(job.id))
    }

    @Test("after the source shrinks, exactly the missing entities are deleted")
    func shrink() async throws {
        let source = Source(["a": 100, "b": 10])
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(source.integration(), mapping: try simpleMapping(kinds: ["a", "b"]), catalog: catalog)
        try await coordinator.start()
        let first = try await run(coordinator)
        #expect(first.reconciliation.map(\.deleted) == [0, 0])
        source.counts.withLock { $0["a"] = 60 }
        let second = try await run(coordinator)
        let a = try #require(second.reconciliation.first { $0.blueprint == "a" })
        #expect(a == BlueprintReconciliation(blueprint: "a", ownedBefore: 100, upserted: 60, stale: 40, deleted: 40))
        #expect(second.progress.first { $0.kind == "a" }?.deleted == 40)
        #expect(try await catalog.entityCount(blueprint: "a") == 60)
        let remaining = Set(try await catalog.entities(blueprint: "a", limit: 1000).compactMap(Self.identifier))
        #expect(remaining == Set((0..<60).map { "a-\($0)" }))
        #expect(try await catalog.entityCount(blueprint: "b") == 10)
    }

    @Test("the threshold divides by what was owned before: within it deletes, over it deletes nothing and says why")
    func threshold() async throws {
        let source = Source(["a": 100])
        let catalog = try temporaryCatalog()
        let mapping = try PortAppConfig.parse("entityDeletionThreshold: 0.5\n" + Self.mappingText(["a"])).config
        let coordinator = makeCoordinator(source.integration(), mapping: mapping, catalog: catalog)
        try await coordinator.start()
        _ = try await run(coordinator)
        source.counts.withLock { $0["a"] = 40 }   // 60 of 100 stale: over 0.5
        let over = try await run(coordinator)
        let skipped = try #require(over.reconciliation.first)
        #expect(skipped.deleted == 0)
        #expect(skipped.stale == 60)
        #expect(skipped.skipped == "deletion threshold exceeded: 60 of 100 owned entities are stale (entityDeletionThreshold 0.5)")
        #expect(over.status == .succeeded)
        #expect(try await catalog.entityCount(blueprint: "a") == 100)
        source.counts.withLock { $0["a"] = 60 }   // 40 of 100 stale: within
        let within = try await run(coordinator)
        #expect(within.reconciliation.first?.deleted == 40)
        #expect(within.reconciliation.first?.skipped == nil)
        #expect(try await catalog.entityCount(blueprint: "a") == 60)
    }

    @Test("a failed kind protects its blueprint; other blueprints are still reconciled")
    func failedKindProtects() async throws {
        let source = Source(["a": 20, "b": 20])
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(source.integration(), mapping: try simpleMapping(kinds: ["a", "b"]), catalog: catalog)
        try await coordinator.start()
        _ = try await run(coordinator)
        source.counts.withLock { $0 = ["a": 15, "b": 15] }
        source.failing.withLock { $0 = ["a"] }
        let job = try await run(coordinator)
        #expect(job.status == .partial)
        let a = try #require(job.reconciliation.first { $0.blueprint == "a" })
        #expect(a.deleted == 0)
        #expect(a.skipped?.contains("kind a failed") == true)
        #expect(job.reconciliation.first { $0.blueprint == "b" }?.deleted == 5)
        #expect(try await catalog.entityCount(blueprint: "a") == 20)
        #expect(try await catalog.entityCount(blueprint: "b") == 15)
    }

    @Test("records that failed to map protect their blueprint (they may be entities that still exist)")
    func failedRecordsProtect() async throws {
        let ocean = OceanIntegration(type: "test")
        let round = Locked(0)
        ocean.onResync(kind: "a") { _ in
            let current = round.withLock { value -> Int in value += 1; return value }
            var batch = records("a", 0..<(current == 1 ? 10 : 5))
            if current > 1 { batch.append(.object(["name": .string("no id")])) }
            return SinglePage(records: batch)
        }
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(ocean, mapping: try simpleMapping(kinds: ["a"]), catalog: catalog)
        try await coordinator.start()
        _ = try await run(coordinator)
        let job = try await run(coordinator)
        #expect(job.reconciliation.first?.skipped == "not every resource producing it finished cleanly: kind a had 1 failed record")
        #expect(try await catalog.entityCount(blueprint: "a") == 10)
    }

    @Test("a one-kind job leaves alone a blueprint that another kind also produces")
    func sharedBlueprint() async throws {
        let source = Source(["x": 10, "y": 10])
        let catalog = try temporaryCatalog()
        let mapping = try PortAppConfig.parse(Self.mappingText(["x", "y"], blueprint: "shared")).config
        let coordinator = makeCoordinator(source.integration(), mapping: mapping, catalog: catalog)
        try await coordinator.start()
        _ = try await run(coordinator)
        #expect(try await catalog.entityCount(blueprint: "shared") == 20)
        let onlyX = try await run(coordinator, .kind("x"))
        #expect(onlyX.reconciliation.first?.skipped == "not every resource producing it finished cleanly: kind y (resources[1]) was not part of this job")
        #expect(try await catalog.entityCount(blueprint: "shared") == 20)
        source.counts.withLock { $0["y"] = 5 }
        let all = try await run(coordinator)
        #expect(all.reconciliation.first?.deleted == 5)
        #expect(try await catalog.entityCount(blueprint: "shared") == 15)
    }

    @Test("entities of another integration are never deleted")
    func otherIntegration() async throws {
        let catalog = try temporaryCatalog()
        let foreign = UpsertOptions(merge: false, createMissingRelatedEntities: true, integrationIdentifier: "someone-else", jobID: "job_x")
        _ = try await catalog.upsert([MappedEntity(resourceIndex: 0, blueprint: "a", identifier: "theirs",
                                                   json: Array(#"{"identifier":"theirs","blueprint":"a"}"#.utf8))], options: foreign)
        let source = Source(["a": 3])
        let coordinator = makeCoordinator(source.integration(), mapping: try simpleMapping(kinds: ["a"]), catalog: catalog)
        try await coordinator.start()
        let job = try await run(coordinator)
        #expect(job.reconciliation.first == BlueprintReconciliation(blueprint: "a", ownedBefore: 0, upserted: 3))
        #expect(try await catalog.entityCount(blueprint: "a") == 4)
    }

    @Test("an empty mapping is a job that succeeds with nothing to do and deletes nothing")
    func emptyMapping() async throws {
        let catalog = try temporaryCatalog()
        let source = Source(["a": 3])
        let first = makeCoordinator(source.integration(), mapping: try simpleMapping(kinds: ["a"]), catalog: catalog)
        try await first.start()
        #expect(try await run(first).status == .succeeded)
        await first.shutdown()
        let empty = makeCoordinator(source.integration(), mapping: try PortAppConfig.parse("resources: []").config, catalog: catalog)
        try await empty.start()
        let job = try await run(empty)
        #expect(job.status == .succeeded, "\(job)")
        #expect(job.progress.isEmpty && job.reconciliation.isEmpty && job.error == nil)
        #expect(try await catalog.entityCount(blueprint: "a") == 3)
        await empty.shutdown()
    }

    static func mappingText(_ kinds: [String], blueprint: String? = nil) -> String {
        "resources:\n" + kinds.map { kind in
            "  - kind: \(kind)\n    selector: {query: 'true'}\n    port: {entity: {mappings: {identifier: .id, blueprint: '\"\(blueprint ?? kind)\"'}}}\n"
        }.joined()
    }

    static func identifier(_ entity: String) -> String? {
        ((try? JSONSerialization.jsonObject(with: Data(entity.utf8))) as? [String: Any])?["identifier"] as? String
    }
}

import Essentials
import Foundation
import OceanKit
import OceanEngine
import OceanCatalog
import Testing

/// A job leaves out what its last write left unchanged, and still reconciles exactly.
@Suite("Unchanged entities are not written again")
struct UnchangedEntityTests {
    /// Kind "a": `count` records; those in `renamed` get another name.
    final class Source: Sendable {
        let count: Locked<Int>
        let renamed = Locked<Set<Int>>([])

        init(_ count: Int) { self.count = Locked(count) }

        func integration() -> OceanIntegration {
            let ocean = OceanIntegration(type: "test")
            ocean.onResync(kind: "a") { _ in
                let count = self.count.current
                let renamed = self.renamed.current
                return SinglePage(records: (0..<count).map { n in
                    .object(["id": .string("a-\(n)"), "name": .string(renamed.contains(n) ? "Renamed \(n)" : "Name \(n)")])
                })
            }
            ocean.addWebhookProcessor("/hook", TestProcessor())
            return ocean
        }
    }

    func run(_ coordinator: ResyncCoordinator, full: Bool = false) async throws -> Job {
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http, full: full)
        return try #require(await coordinator.waitUntilFinished(job.id))
    }

    static func updatedAt(_ catalog: CatalogStore, _ identifier: String) async throws -> String {
        let entity = try #require(try await catalog.entities(blueprint: "a", identifier: identifier, limit: 1).first)
        return ((try JSONSerialization.jsonObject(with: Data(entity.utf8)) as? [String: Any])?["updatedAt"] as? String) ?? ""
    }

    @Test("an unchanged entity is not sent, a changed one is; both count as seen")
    func skipsUnchanged() async throws {
        let source = Source(50)
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(source.integration(), mapping: try simpleMapping(kinds: ["a"]), catalog: catalog, digests: catalog)
        try await coordinator.start()
        let first = try await run(coordinator)
        #expect(first.progress[0].upserted == 50 && first.progress[0].unchanged == 0)
        let before = try await Self.updatedAt(catalog, "a-1")
        try await Task.sleep(for: .milliseconds(1100))   // updated_at has a resolution of a second
        source.renamed.withLock { $0 = [3, 7] }
        let second = try await run(coordinator)
        #expect(second.status == .succeeded)
        #expect(second.progress[0].upserted == 2)
        #expect(second.progress[0].unchanged == 48)
        #expect(second.reconciliation.first?.stale == 0)
        #expect(try await Self.updatedAt(catalog, "a-1") == before, "an unchanged entity was written again")
        #expect(try await catalog.entities(blueprint: "a", identifier: "a-3", limit: 1).first?.contains("Renamed 3") == true)
        await coordinator.shutdown()
    }

    @Test("a mapping change, full=true and every FULL_EVERYth job write everything again")
    func rewrites() async throws {
        let source = Source(20)
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(source.integration(), mapping: try simpleMapping(kinds: ["a"]), catalog: catalog,
                                          digests: catalog, fullWriteEvery: 3)
        try await coordinator.start()
        _ = try await run(coordinator)
        let skipped = try await run(coordinator)
        #expect(skipped.progress[0].unchanged == 20 && !skipped.fullWrite)
        // The third job since the last full one (the first wrote everything it had no digest of,
        // but was not asked to): FULL_EVERY=3 makes it full.
        let third = try await run(coordinator)
        #expect(third.fullWrite && third.progress[0].upserted == 20 && third.progress[0].unchanged == 0)
        let asked = try await run(coordinator, full: true)
        #expect(asked.fullWrite && asked.progress[0].upserted == 20)
        #expect(try await run(coordinator).progress[0].unchanged == 20)
        await coordinator.shutdown()

        // The same records under another mapping (titles from another field): all written again.
        let changed = try PortAppConfig.parse("""
            resources:
              - kind: a
                selector: {query: 'true'}
                port: {entity: {mappings: {identifier: .id, title: '.name | ascii_upcase', blueprint: '"a"'}}}
            """).config
        let remapped = makeCoordinator(source.integration(), mapping: changed, catalog: catalog, digests: catalog)
        try await remapped.start()
        let job = try await run(remapped)
        #expect(job.progress[0].upserted == 20 && job.progress[0].unchanged == 0)
        #expect(try await catalog.entities(blueprint: "a", identifier: "a-0", limit: 1).first?.contains("NAME 0") == true)
        await remapped.shutdown()
    }

    @Test("reconciliation still deletes exactly the stale entities; one deleted behind the service's back is written again")
    func reconciles() async throws {
        let source = Source(30)
        let catalog = try temporaryCatalog()
        let coordinator = makeCoordinator(source.integration(), mapping: try simpleMapping(kinds: ["a"]), catalog: catalog, digests: catalog)
        try await coordinator.start()
        _ = try await run(coordinator)
        source.count.withLock { $0 = 28 }
        _ = try await catalog.delete(blueprint: "a", identifiers: ["a-5"], integration: "test", deleteDependents: false)
        let job = try await run(coordinator)
        #expect(job.progress[0].unchanged == 27)
        #expect(job.progress[0].upserted == 1)   // a-5, which the catalog no longer had
        #expect(job.reconciliation.first?.deleted == 2)
        #expect(try await catalog.entityCount(blueprint: "a") == 28)
        #expect(try await catalog.entities(blueprint: "a", identifier: "a-29", limit: 1).isEmpty)
        // Deleted entities lose their digests: when they come back they are written.
        source.count.withLock { $0 = 30 }
        let back = try await run(coordinator)
        #expect(back.progress[0].upserted == 2 && back.progress[0].unchanged == 28)
        await coordinator.shutdown()
    }

    @Test("an entity a webhook wrote is not written again by the next resync when the resync maps it the same")
    func webhookWrites() async throws {
        let source = Source(5)
        let catalog = try temporaryCatalog()
        let mapping = try simpleMapping(kinds: ["a"])
        let ocean = source.integration()
        let recentChanges = RecentChanges()
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: mapping, recentChanges: recentChanges, digests: catalog)
        try await dispatcher.start()
        let coordinator = makeCoordinator(ocean, mapping: mapping, catalog: catalog, recentChanges: recentChanges, digests: catalog)
        try await coordinator.start()
        _ = try await run(coordinator)
        // The source's next state, delivered first by webhook: a new record and a renamed one.
        source.count.withLock { $0 = 6 }
        source.renamed.withLock { $0 = [2] }
        for (id, name) in [("a-5", "Name 5"), ("a-2", "Renamed 2")] {
            let accepted = try await dispatcher.accept(path: "/hook", headers: authenticated, body: body(["id": id, "name": name]))
            try await eventually("delivery applied") { (try? await dispatcher.delivery(accepted.id))?.status == .done }
        }
        let job = try await run(coordinator)
        #expect(job.progress[0].upserted == 0)
        #expect(job.progress[0].unchanged == 6)
        await coordinator.shutdown()
        await dispatcher.stop()
    }
}

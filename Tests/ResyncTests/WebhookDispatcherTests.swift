import Essentials
import Foundation
import Logging
import Ocean
import OceanCatalog
import Testing

/// A processor for tests: `{"id": ..., "name": ..., "delete": bool}` on kind "a"; it can fail a
/// number of times per delivery, wait, and records the order it handled events in.
final class TestProcessor: WebhookProcessor {
    let failures: Int
    let delay: Duration
    let handled = Locked<[String]>([])
    let attempts = Locked<[String: Int]>([:])
    let policy: WebhookRetryPolicy

    init(failures: Int = 0, delay: Duration = .zero, maxRetries: Int = 3) {
        self.failures = failures
        self.delay = delay
        policy = WebhookRetryPolicy(maxRetries: maxRetries, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(40))
    }

    var retryPolicy: WebhookRetryPolicy { policy }
    func matchingKinds(_ event: WebhookEvent) -> [String] { ["a"] }
    func authenticate(_ event: WebhookEvent, config: IntegrationConfig) -> Bool { event.headers["x-test-token"] == "ok" }
    func validate(_ event: WebhookEvent) -> Bool { event.payload.objectValue?["id"]?.stringValue != nil }
    func orderingKey(_ event: WebhookEvent) -> String { event.payload.objectValue?["key"]?.stringValue ?? "default" }

    func handle(_ event: WebhookEvent, resource: ResourceConfig) async throws -> WebhookResults {
        let object = event.payload.objectValue!
        let marker = object["marker"]?.stringValue ?? object["id"]!.stringValue!
        let attempt = attempts.withLock { attempts -> Int in
            attempts[marker, default: 0] += 1
            return attempts[marker]!
        }
        if delay > .zero { try await Task.sleep(for: delay) }
        if attempt <= failures { throw TestFailure("attempt \(attempt) fails") }
        handled.withLock { $0.append(marker) }
        let record: JSON = .object(["id": object["id"]!, "name": object["name"] ?? .string("from webhook")])
        return object["delete"]?.boolValue == true ? WebhookResults(deleted: [record]) : WebhookResults(updated: [record])
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func makeDispatcher(
    _ ocean: OceanIntegration, catalog: CatalogStore, mapping: PortAppConfig, recentChanges: RecentChanges = RecentChanges(),
    maxQueued: Int = 1000, concurrency: Int = 4
) -> WebhookDispatcher {
    var logger = Logger(label: "test.webhooks")
    logger.logLevel = .critical
    return WebhookDispatcher(
        integration: ocean, integrationConfig: IntegrationConfig(), mappingSource: FixedMapping(mapping), sink: catalog, store: catalog,
        recentChanges: recentChanges,
        settings: .init(maxQueued: maxQueued, concurrency: concurrency, integrationIdentifier: "test"), logger: logger)
}

func body(_ object: [String: Any]) -> [UInt8] {
    Array(try! JSONSerialization.data(withJSONObject: object))
}

let authenticated: [(name: String, value: String)] = [("X-Test-Token", "ok")]

@Suite("Webhook dispatcher")
struct WebhookDispatcherTests {
    func finished(_ dispatcher: WebhookDispatcher, _ ids: [String]) async throws -> [Delivery] {
        var deliveries: [Delivery] = []
        try await eventually("deliveries to finish") {
            deliveries = (try? await dispatcher.deliveries(status: nil, limit: 1000)) ?? []
            let byID = Dictionary(uniqueKeysWithValues: deliveries.map { ($0.id, $0) })
            return ids.allSatisfy { byID[$0]?.status == .done || byID[$0]?.status == .dead }
        }
        return deliveries
    }

    @Test("a delivery is checked before it is accepted: unknown path, bad JSON, no authentication, bad payload")
    func checksBeforeAccepting() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.addWebhookProcessor("/hook", TestProcessor())
        let catalog = try temporaryCatalog()
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: try simpleMapping(kinds: ["a"]))
        for (path, headers, payload, code) in [
            ("/nope", authenticated, body(["id": "x"]), WebhookError.Code.unknownPath),
            ("/hook", authenticated, Array("{not json".utf8), .invalidJSON),
            ("/hook", [], body(["id": "x"]), .unauthenticated),
            ("/hook", [("X-Test-Token", "wrong")], body(["id": "x"]), .unauthenticated),
            ("/hook", authenticated, body(["no": "id"]), .invalidPayload),
        ] {
            do {
                _ = try await dispatcher.accept(path: path, headers: headers, body: payload)
                Issue.record("\(path) accepted")
            } catch {
                #expect(error.code == code)
            }
        }
        #expect(try await catalog.queuedCount() == 0)
        let counters = await dispatcher.counters
        #expect(counters.rejected == ["unknown_path": 1, "invalid_json": 1, "unauthenticated": 2, "invalid_payload": 1])
    }

    @Test("the queue is bounded: past the limit deliveries are refused as queue_full")
    func queueFull() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.addWebhookProcessor("/hook", TestProcessor())
        let dispatcher = makeDispatcher(ocean, catalog: try temporaryCatalog(), mapping: try simpleMapping(kinds: ["a"]), maxQueued: 2)
        // Not started: nothing is applied, so the queue fills.
        _ = try await dispatcher.accept(path: "/hook", headers: authenticated, body: body(["id": "1"]))
        _ = try await dispatcher.accept(path: "/hook", headers: authenticated, body: body(["id": "2"]))
        await #expect(throws: WebhookError(.queueFull, "2 deliveries are waiting; retry later")) {
            _ = try await dispatcher.accept(path: "/hook", headers: authenticated, body: body(["id": "3"]))
        }
    }

    @Test("accepted deliveries survive a stop before they are applied, and are applied once after the restart")
    func durableAcrossRestart() async throws {
        let ocean = OceanIntegration(type: "test")
        let processor = TestProcessor()
        ocean.addWebhookProcessor("/hook", processor)
        let catalog = try temporaryCatalog()
        let mapping = try simpleMapping(kinds: ["a"])
        let before = makeDispatcher(ocean, catalog: catalog, mapping: mapping)
        var ids: [String] = []
        for n in 0..<20 {
            ids.append(try #require(try await before.accept(path: "/hook", headers: authenticated, body: body(["id": "e\(n)", "key": "k\(n % 3)"]))))
        }
        // The first process dies here without applying anything; a new one starts on the same store.
        let after = makeDispatcher(ocean, catalog: catalog, mapping: mapping)
        try await after.start()
        let deliveries = try await finished(after, ids)
        #expect(deliveries.allSatisfy { $0.status == .done && $0.attempts == 1 })
        #expect(processor.handled.withLock { $0 }.sorted() == (0..<20).map { "e\($0)" }.sorted())
        #expect(try await catalog.entityCount(blueprint: "a") == 20)
        await after.stop()
    }

    @Test("a processor that fails twice then succeeds is retried; one that always fails ends dead and can be replayed")
    func retriesAndDeadLetters() async throws {
        let ocean = OceanIntegration(type: "test")
        let flaky = TestProcessor(failures: 2)
        ocean.addWebhookProcessor("/flaky", flaky)
        let broken = TestProcessor(failures: 1000, maxRetries: 2)
        ocean.addWebhookProcessor("/broken", broken)
        let catalog = try temporaryCatalog()
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: try simpleMapping(kinds: ["a"]))
        try await dispatcher.start()
        let good = try #require(try await dispatcher.accept(path: "/flaky", headers: authenticated, body: body(["id": "f1"])))
        let bad = try #require(try await dispatcher.accept(path: "/broken", headers: authenticated, body: body(["id": "b1"])))
        let deliveries = try await finished(dispatcher, [good, bad])
        let flakyDelivery = try #require(deliveries.first { $0.id == good })
        #expect(flakyDelivery.status == .done)
        #expect(flakyDelivery.attempts == 3)
        let dead = try #require(deliveries.first { $0.id == bad })
        #expect(dead.status == .dead)
        #expect(dead.attempts == 3)
        #expect(dead.lastError == "attempt 3 fails")
        #expect(try await dispatcher.deliveries(status: .dead, limit: 10).map(\.id) == [bad])

        let replayed = try await dispatcher.replay(bad)
        #expect(replayed.status == .pending && replayed.attempts == 0)
        let again = try await finished(dispatcher, [bad])
        #expect(again.first { $0.id == bad }?.status == .dead)
        #expect(broken.attempts.withLock { $0["b1"] } == 6)
        await #expect(throws: WebhookError.self) { _ = try await dispatcher.replay("dlv_nope") }
        let counters = await dispatcher.counters
        #expect(counters.processed == 1 && counters.dead == 2 && counters.retried == 6)
        await dispatcher.stop()
    }

    @Test("events with the same ordering key are applied in order; different keys run in parallel")
    func orderingPerKey() async throws {
        let ocean = OceanIntegration(type: "test")
        let processor = TestProcessor(delay: .milliseconds(3))
        ocean.addWebhookProcessor("/hook", processor)
        let catalog = try temporaryCatalog()
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: try simpleMapping(kinds: ["a"]), concurrency: 4)
        try await dispatcher.start()
        var ids: [String] = []
        for n in 0..<60 {
            let key = "k\(n % 3)"
            ids.append(try #require(try await dispatcher.accept(
                path: "/hook", headers: authenticated, body: body(["id": "entity-\(key)", "key": key, "marker": "\(key)-\(n)", "name": "v\(n)"]))))
        }
        _ = try await finished(dispatcher, ids)
        let handled = processor.handled.withLock { $0 }
        for key in ["k0", "k1", "k2"] {
            let sequence = handled.filter { $0.hasPrefix(key + "-") }.map { Int($0.dropFirst(3))! }
            #expect(sequence == sequence.sorted(), "\(key): \(sequence)")
            #expect(sequence.count == 20)
        }
        // The last event of each key won.
        let entities = try await catalog.entities(blueprint: "a", limit: 10)
        #expect(entities.contains { $0.contains(#""identifier":"entity-k0""#) && $0.contains(#""title":"v57""#) })
        await dispatcher.stop()
    }

    @Test("updates upsert through the mapping; deleted records and records the selector rejects delete their entity")
    func upsertsAndDeletes() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.addWebhookProcessor("/hook", TestProcessor())
        let catalog = try temporaryCatalog()
        let mapping = try PortAppConfig.parse("""
            resources:
              - kind: a
                selector: {query: '.name != "hidden"'}
                port: {entity: {mappings: {identifier: .id, title: .name, blueprint: '"a"'}}}
            """).config
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: mapping)
        try await dispatcher.start()
        var ids: [String] = []
        for payload: [String: Any] in [["id": "x", "name": "X", "key": "x"], ["id": "y", "name": "Y", "key": "y"], ["id": "z", "name": "Z", "key": "z"],
                                       ["id": "x", "delete": true, "key": "x", "marker": "x-delete"], ["id": "y", "name": "hidden", "key": "y", "marker": "y-hide"]] {
            ids.append(try #require(try await dispatcher.accept(path: "/hook", headers: authenticated, body: body(payload))))
        }
        let deliveries = try await finished(dispatcher, ids)
        #expect(deliveries.allSatisfy { $0.status == .done })
        let remaining = try await catalog.entities(blueprint: "a", limit: 10)
        #expect(remaining.count == 1)
        #expect(remaining.first?.contains(#""identifier":"z""#) == true)
        await dispatcher.stop()
    }

    @Test("resync race: a webhook update during a resync is not overwritten by the resync's older copy")
    func resyncDoesNotOverwriteNewer() async throws {
        let gate = Gate()
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ in
            // The resync fetched its copy before the webhook came; it writes it after.
            AsyncThrowingStream<[JSON], any Error> { continuation in
                Task {
                    await gate.wait()
                    continuation.yield([.object(["id": .string("x"), "name": .string("old from resync")]), .object(["id": .string("y"), "name": .string("Y")])])
                    continuation.finish()
                }
            }
        }
        ocean.addWebhookProcessor("/hook", TestProcessor())
        let catalog = try temporaryCatalog()
        let mapping = try simpleMapping(kinds: ["a"])
        let recent = RecentChanges()
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: mapping, recentChanges: recent)
        try await dispatcher.start()
        let coordinator = makeCoordinator(ocean, mapping: mapping, catalog: catalog, recentChanges: recent)
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
        try await eventually("running") { await coordinator.job(job.id)?.status == .running }
        let id = try #require(try await dispatcher.accept(path: "/hook", headers: authenticated, body: body(["id": "x", "name": "new from webhook"])))
        _ = try await finished(dispatcher, [id])
        gate.open()
        let done = try #require(await coordinator.waitUntilFinished(job.id))
        #expect(done.status == .succeeded)
        let x = try await catalog.entities(blueprint: "a", limit: 10).first { $0.contains(#""identifier":"x""#) }
        #expect(x?.contains("new from webhook") == true, "\(x ?? "")")
        #expect(try await catalog.entityCount(blueprint: "a") == 2)
        await dispatcher.stop()
    }

    @Test("resync race: an entity a webhook creates during a resync is not deleted by that resync's reconciliation")
    func resyncDoesNotDeleteNewer() async throws {
        let gate = Gate()
        let round = Locked(0)
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "a") { _ in
            let current = round.withLock { value -> Int in value += 1; return value }
            return Pages(prefix: "a", pages: 1, size: 5, gate: current == 2 ? gate : nil)
        }
        ocean.addWebhookProcessor("/hook", TestProcessor())
        let catalog = try temporaryCatalog()
        let mapping = try simpleMapping(kinds: ["a"])
        let recent = RecentChanges()
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: mapping, recentChanges: recent)
        try await dispatcher.start()
        let coordinator = makeCoordinator(ocean, mapping: mapping, catalog: catalog, recentChanges: recent)
        try await coordinator.start()
        let (first, _) = try await coordinator.request(.allKinds, trigger: .http)
        _ = await coordinator.waitUntilFinished(first.id)
        let (second, _) = try await coordinator.request(.allKinds, trigger: .http)
        try await eventually("running") { await coordinator.job(second.id)?.status == .running }
        let id = try #require(try await dispatcher.accept(path: "/hook", headers: authenticated, body: body(["id": "born-in-webhook", "name": "N"])))
        _ = try await finished(dispatcher, [id])
        gate.open()
        let done = try #require(await coordinator.waitUntilFinished(second.id))
        #expect(done.reconciliation.first?.deleted == 0)
        #expect(try await catalog.entityCount(blueprint: "a") == 6)
        await dispatcher.stop()
    }
}

@Suite("Recent webhook changes")
struct RecentChangesTests {
    @Test("kept only while a job runs, and only as far back as the oldest running job")
    func bounded() {
        let changes = RecentChanges()
        let start = Date()
        changes.note([("a", "before-any-job")], at: start)
        #expect(!changes.changed("a", "before-any-job", since: .distantPast))
        changes.beginWatching(job: "j1", since: start)
        changes.note([("a", "x")], at: start.addingTimeInterval(1))
        #expect(changes.changed("a", "x", since: start))
        #expect(!changes.changed("a", "x", since: start.addingTimeInterval(2)))
        changes.beginWatching(job: "j2", since: start.addingTimeInterval(5))
        changes.endWatching(job: "j1")
        #expect(!changes.changed("a", "x", since: .distantPast), "older than the oldest running job: forgotten")
        changes.note([("a", "y")], at: start.addingTimeInterval(6))
        changes.endWatching(job: "j2")
        #expect(!changes.changed("a", "y", since: .distantPast), "no job runs: nothing kept")
    }
}

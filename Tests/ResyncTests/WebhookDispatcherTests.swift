import Essentials
import Foundation
import Logging
import OceanKit
import OceanEngine
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
        policy = WebhookRetryPolicy(maxAttempts: maxRetries + 1, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(40))
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

/// The catalog behind a delay on every write: a destination far away.
struct SlowSink: ReconcilingSink {
    let catalog: CatalogStore
    let delay: Duration
    var name: String { "slow catalog" }
    var destinationIdentity: String { catalog.destinationIdentity }

    func upsert(_ entities: [MappedEntity], options: UpsertOptions) async throws -> UpsertOutcome {
        try await Task.sleep(for: delay)
        return try await catalog.upsert(entities, options: options)
    }

    func confirmUnchanged(_ entities: [MappedEntity], options: UpsertOptions) async throws -> [MappedEntity] {
        try await catalog.confirmUnchanged(entities, options: options)
    }

    func ownedAtStart(integration: String) async throws -> OwnedEntities { try await catalog.ownedAtStart(integration: integration) }

    func staleIdentifiers(blueprints: Set<String>, integration: String, jobID: String, ownedAtStart: OwnedEntities) async throws -> [String: [String]] {
        try await catalog.staleIdentifiers(blueprints: blueprints, integration: integration, jobID: jobID, ownedAtStart: ownedAtStart)
    }

    func delete(blueprint: String, identifiers: [String], integration: String, deleteDependents: Bool) async throws -> Int {
        try await Task.sleep(for: delay)
        return try await catalog.delete(blueprint: blueprint, identifiers: identifiers, integration: integration, deleteDependents: deleteDependents)
    }

    func finishJob(_ jobID: String) async { await catalog.finishJob(jobID) }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func makeDispatcher(
    _ ocean: OceanIntegration, catalog: CatalogStore, mapping: PortAppConfig, recentChanges: RecentChanges = RecentChanges(),
    maxQueued: Int = 1000, concurrency: Int = 4, digests: (any WriteDigests)? = nil
) -> WebhookDispatcher {
    var logger = Logger(label: "test.webhooks")
    logger.logLevel = .critical
    return WebhookDispatcher(
        integration: ocean, integrationConfig: IntegrationConfig(), mappingSource: FixedMapping(mapping), sink: catalog, store: catalog,
        recentChanges: recentChanges, pool: testPool,
        settings: .init(maxQueued: maxQueued, concurrency: concurrency, integrationIdentifier: "test"), logger: logger, digests: digests)
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
        let counters = dispatcher.counters
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

    @Test("the queue bound holds under concurrency: 50 deliveries at once against a limit of 5")
    func queueBoundConcurrent() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.addWebhookProcessor("/hook", TestProcessor())
        let dispatcher = makeDispatcher(ocean, catalog: try temporaryCatalog(), mapping: try simpleMapping(kinds: ["a"]), maxQueued: 5)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for n in 0..<50 {
                group.addTask { (try? await dispatcher.accept(path: "/hook", headers: authenticated, body: body(["id": "c\(n)"]))) != nil }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 5)
        #expect(dispatcher.counters.rejected["queue_full"] == 45)
    }

    @Test("JSON nested deeper than jq parses is refused before it is accepted; as deep as jq parses is applied")
    func nestingDepth() async throws {
        let ocean = OceanIntegration(type: "test")
        let processor = TestProcessor()
        ocean.addWebhookProcessor("/hook", processor)
        let catalog = try temporaryCatalog()
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: try simpleMapping(kinds: ["a"]))
        try await dispatcher.start()
        func nested(_ depth: Int) -> [UInt8] {
            // {"id":"d","deep":[[...]]}: the object is one level, the arrays the rest.
            Array(("{\"id\":\"d\(depth)\",\"deep\":" + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}").utf8)
        }
        await #expect(throws: WebhookError.self) { _ = try await dispatcher.accept(path: "/hook", headers: authenticated, body: nested(257)) }
        await #expect(throws: WebhookError.self) { _ = try await dispatcher.accept(path: "/hook", headers: authenticated, body: nested(400)) }
        #expect(dispatcher.counters.rejected["invalid_json"] == 2)
        let id = try #require(try await dispatcher.acceptID(path: "/hook", headers: authenticated, body: nested(256)))
        let deliveries = try await finished(dispatcher, [id])
        #expect(deliveries.first { $0.id == id }?.status == .done)
        await dispatcher.stop()
    }

    @Test("a sender's retry is answered with the first delivery's id and applied once: by delivery id header, or the same body again")
    func duplicates() async throws {
        let ocean = OceanIntegration(type: "test")
        let processor = TestProcessor()
        ocean.addWebhookProcessor("/hook", processor)
        let catalog = try temporaryCatalog()
        let mapping = try simpleMapping(kinds: ["a"])
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: mapping)
        try await dispatcher.start()
        let withID = authenticated + [("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")]
        let first = try await dispatcher.accept(path: "/hook", headers: withID, body: body(["id": "g1", "marker": "first"]))
        // Same delivery id, another body (GitHub's redelivery re-signs the same event).
        let again = try await dispatcher.accept(path: "/hook", headers: withID, body: body(["id": "g1", "marker": "second"]))
        #expect(!first.duplicate && again.duplicate && again.id == first.id)
        // The same body twice in a row for one key: a retry; A, B, A: three events.
        let a = body(["id": "s1", "marker": "a1", "name": "A"])
        let b = body(["id": "s1", "marker": "b", "name": "B"])
        let one = try await dispatcher.accept(path: "/hook", headers: authenticated, body: a)
        let two = try await dispatcher.accept(path: "/hook", headers: authenticated, body: a)
        #expect(two.duplicate && two.id == one.id)
        let three = try await dispatcher.accept(path: "/hook", headers: authenticated, body: b)
        let four = try await dispatcher.accept(path: "/hook", headers: authenticated, body: a)
        #expect(!three.duplicate && !four.duplicate)
        _ = try await finished(dispatcher, [first.id, one.id, three.id, four.id])
        #expect(processor.handled.current.filter { $0 == "first" || $0 == "second" } == ["first"])
        #expect(processor.handled.current.filter { $0 == "a1" }.count == 2)
        #expect(dispatcher.counters.duplicates == 2)
        await dispatcher.stop()
        // After a restart, the delivery id is found in the store.
        let restarted = makeDispatcher(ocean, catalog: catalog, mapping: mapping)
        let later = try await restarted.accept(path: "/hook", headers: withID, body: body(["id": "g1", "marker": "third"]))
        #expect(later.duplicate && later.id == first.id)
    }

    @Test("an ignored delivery is answered with an id too")
    func ignoredHasID() async throws {
        struct Uninterested: WebhookProcessor {
            func shouldProcess(_ event: WebhookEvent) -> Bool { false }
            func matchingKinds(_ event: WebhookEvent) -> [String] { [] }
            func authenticate(_ event: WebhookEvent, config: IntegrationConfig) -> Bool { true }
            func handle(_ event: WebhookEvent, resource: ResourceConfig) async throws -> WebhookResults { WebhookResults() }
        }
        let ocean = OceanIntegration(type: "test")
        ocean.addWebhookProcessor("/hook", Uninterested())
        let catalog = try temporaryCatalog()
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: try simpleMapping(kinds: ["a"]))
        let acceptance = try await dispatcher.accept(path: "/hook", headers: [], body: body(["id": "x"]))
        #expect(acceptance.ignored)
        #expect(acceptance.id.hasPrefix("dlv_"))
        #expect(try await catalog.queuedCount() == 0)
    }

    @Test("a delivery that cannot be stored durably is refused, not acknowledged: the catalog's file was removed")
    func storeGone() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.addWebhookProcessor("/hook", TestProcessor())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gone-\(UUID().uuidString)").path
        let catalog = try CatalogStore(path: folder + "/catalog.sqlite")
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: try simpleMapping(kinds: ["a"]))
        _ = try await dispatcher.accept(path: "/hook", headers: authenticated, body: body(["id": "before"]))
        #expect(await catalog.storageProblem() == nil)
        try FileManager.default.removeItem(atPath: folder)
        await #expect(throws: WebhookError.self) {
            _ = try await dispatcher.accept(path: "/hook", headers: authenticated, body: body(["id": "after"]))
        }
        #expect(dispatcher.counters.rejected["store_unavailable"] == 1)
        #expect(await catalog.storageProblem()?.contains("is gone") == true)
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
            ids.append(try #require(try await before.acceptID(path: "/hook", headers: authenticated, body: body(["id": "e\(n)", "key": "k\(n % 3)"]))))
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
        let good = try #require(try await dispatcher.acceptID(path: "/flaky", headers: authenticated, body: body(["id": "f1"])))
        let bad = try #require(try await dispatcher.acceptID(path: "/broken", headers: authenticated, body: body(["id": "b1"])))
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
        let counters = dispatcher.counters
        #expect(counters.processed == 1 && counters.dead == 2 && counters.retried == 6)
        await dispatcher.stop()
    }

    @Test("thousands of webhook upserts and deletes during slow resyncs of the same entities: none overwritten, none resurrected")
    func raceWithResync() async throws {
        let count = 300
        // The third party: a change happens there first, then its webhook is sent; a resync reads
        // what is there when it fetches a page (so a page fetched before a change is older).
        let upstream = Locked([Int: String](uniqueKeysWithValues: (0..<count).map { ($0, "from the resync") }))
        let ocean = OceanIntegration(type: "test")
        ocean.addWebhookProcessor("/hook", TestProcessor())
        // Every entity, 10 a page, a pause between pages: a resync that is always in the middle of a write.
        ocean.onResync(kind: "a") { _ in
            AsyncThrowingStream<[JSON], any Error> { continuation in
                let task = Task {
                    for page in 0..<(count / 10) {
                        let now = upstream.current
                        continuation.yield((page * 10..<(page + 1) * 10).compactMap { entity -> JSON? in
                            now[entity].map { .object(["id": .string("e\(entity)"), "name": .string($0)]) }
                        })
                        try? await Task.sleep(for: .milliseconds(4))
                    }
                    continuation.finish()
                }
                continuation.onTermination = { _ in task.cancel() }
            }
        }
        let recentChanges = RecentChanges()
        let catalog = try temporaryCatalog()
        let mapping = try simpleMapping(kinds: ["a"])
        let dispatcher = makeDispatcher(ocean, catalog: catalog, mapping: mapping, recentChanges: recentChanges,
                                        maxQueued: 100_000, concurrency: 8)
        // The resync writes to a slow destination (as Port is, 50 ms away): a wide window between
        // its decision to write an entity and the write.
        var logger = Logger(label: "test.race")
        logger.logLevel = .critical
        let coordinator = ResyncCoordinator(
            integration: ocean, integrationConfig: IntegrationConfig(), mappingSource: FixedMapping(mapping),
            // (Its batches in flight are written concurrently: the delay is long enough that the
            // jobs last while a few hundred deliveries go in, even on a fast machine.)
            destination: .reconciling(SlowSink(catalog: catalog, delay: .milliseconds(45))), store: catalog, pool: testPool,
            settings: .init(integrationIdentifier: "test"), logger: logger, recentChanges: recentChanges)
        try await coordinator.start()
        try await dispatcher.start()
        var touched = Set<Int>()
        var ids = 0
        var operation = 0
        var overwritten = 0, resurrected = 0
        for _ in 0..<4 {
            let (job, _) = try await coordinator.request(.allKinds, trigger: .http)
            try await eventually("the job to start") { await coordinator.job(job.id)?.status != .queued }
            while await coordinator.job(job.id)?.status.isFinal == false, operation < 3000 {
                let entity = Int.random(in: 0..<count)
                operation += 1
                let delete = Bool.random()
                let payload: [String: Any] = delete
                    ? ["id": "e\(entity)", "key": "e\(entity)", "delete": true, "marker": "op\(operation)"]
                    : ["id": "e\(entity)", "key": "e\(entity)", "name": "webhook \(operation)", "marker": "op\(operation)"]
                upstream.withLock { $0[entity] = delete ? nil : "webhook \(operation)" }
                _ = try #require(try await dispatcher.acceptID(path: "/hook", headers: authenticated, body: body(payload)))
                ids += 1
                touched.insert(entity)
                if operation % 20 == 0 { try await Task.sleep(for: .milliseconds(1)) }
            }
            #expect(await coordinator.waitUntilFinished(job.id)?.status == .succeeded)
            // Once this job and every delivery are done, the catalog must be what the third party has
            // (the next job would repair a wrong entity, so each job is checked on its own).
            try await eventually("every delivery to be applied") { (try? await catalog.queuedCount()) == 0 }
            let expected = upstream.current
            for entity in touched {
                let stored = try await catalog.entities(blueprint: "a", identifier: "e\(entity)", limit: 1).first
                if let title = expected[entity] {
                    if stored?.contains(#""title":"\#(title)""#) != true { overwritten += 1 }
                } else if stored != nil {
                    resurrected += 1
                }
            }
        }
        #expect(ids > 300)
        #expect(touched.count > count / 4, "the webhooks touched too few entities to mean anything")
        #expect(overwritten == 0, "\(overwritten) webhook upserts were overwritten by a resync")
        #expect(resurrected == 0, "\(resurrected) webhook deletes were undone by a resync")
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
            ids.append(try #require(try await dispatcher.acceptID(
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
            ids.append(try #require(try await dispatcher.acceptID(path: "/hook", headers: authenticated, body: body(payload))))
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
        let id = try #require(try await dispatcher.acceptID(path: "/hook", headers: authenticated, body: body(["id": "x", "name": "new from webhook"])))
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
        let id = try #require(try await dispatcher.acceptID(path: "/hook", headers: authenticated, body: body(["id": "born-in-webhook", "name": "N"])))
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
    func bounded() async {
        let changes = RecentChanges()
        let start = Date()
        await changes.markChanging([("a", "before-any-job")], at: start)
        #expect(!changes.changed("a", "before-any-job", since: .distantPast))
        changes.beginWatching(job: "j1", since: start)
        await changes.markChanging([("a", "x")], at: start.addingTimeInterval(1))
        #expect(changes.changed("a", "x", since: start))
        #expect(!changes.changed("a", "x", since: start.addingTimeInterval(2)))
        changes.beginWatching(job: "j2", since: start.addingTimeInterval(5))
        changes.endWatching(job: "j1")
        #expect(!changes.changed("a", "x", since: .distantPast), "older than the oldest running job: forgotten")
        await changes.markChanging([("a", "y")], at: start.addingTimeInterval(6))
        changes.endWatching(job: "j2")
        #expect(!changes.changed("a", "y", since: .distantPast), "no job runs: nothing kept")
    }

    @Test("a claimed entity is not written by a webhook until the claim is released; a marked one is not claimed")
    func claims() async throws {
        let changes = RecentChanges()
        let start = Date()
        changes.beginWatching(job: "j", since: start)
        let entity = MappedEntity(resourceIndex: 0, blueprint: "a", identifier: "x", json: Array("{}".utf8))
        let claim = changes.claim([entity], since: start)
        #expect(claim.entities.count == 1)
        let marked = Locked(false)
        let webhook = Task {
            await changes.markChanging([("a", "x")], at: Date())
            marked.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!marked.current, "the webhook went ahead while the resync's write held the entity")
        // Marked already (it waits for the write only): the next resync batch leaves it alone.
        #expect(changes.claim([entity], since: start).entities.isEmpty)
        changes.release(claim)
        await webhook.value
        #expect(marked.current)
    }
}

extension WebhookDispatcher {
    /// The stored delivery's id, nil when no processor wanted the delivery.
    func acceptID(path: String, headers: [(name: String, value: String)], body: [UInt8]) async throws -> String? {
        let acceptance = try await accept(path: path, headers: headers, body: body)
        return acceptance.ignored ? nil : acceptance.id
    }
}

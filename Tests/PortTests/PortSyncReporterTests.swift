import FakePort
import Foundation
import OceanKit
import OceanEngine
import OceanPort
import Testing

/// What Port sees of jobs: resync state, sync metrics, heartbeats, examples; never in a job's way.
@Suite("Port's view of jobs")
struct PortSyncReporterTests {
    static func object(_ text: String) -> [String: Any] {
        ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]) ?? [:]
    }

    /// `phase.<phase>.object_count_type.<label>.object_count` of an event.
    static func count(_ event: [String: Any], _ phase: String, _ label: String) -> Int? {
        let metrics = event["metrics"] as? [String: Any]
        let phases = metrics?["phase"] as? [String: Any]
        let types = (phases?[phase] as? [String: Any])?["object_count_type"] as? [String: Any]
        return (types?[label] as? [String: Any])?["object_count"] as? Int
    }

    @Test("each kind goes pending, syncing, completed with its counts; the job and reconciliation are kinds of their own")
    func syncMetrics() async throws {
        let source = CountingSource(["service": 45, "team": 3])
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service", "team"]))
        let job = try await harness.run()
        await harness.flushReports()
        let events = await harness.port.syncMetrics.map(Self.object)
        #expect(events.allSatisfy { $0["eventId"] as? String == job.id && $0["integrationIdentifier"] as? String == "test-integration" })
        let service = events.filter { $0["kindIdentifier"] as? String == "service-0" }
        #expect(service.compactMap { $0["syncState"] as? String } == ["pending", "syncing", "completed"])
        let done = try #require(service.last)
        #expect(Self.count(done, "extract", "raw_extracted") == 45)
        #expect(Self.count(done, "load", "loaded") == 45)
        #expect(Self.count(done, "load", "failed") == 0)
        #expect(done["blueprint"] as? String == "service")
        #expect(events.filter { $0["kindIdentifier"] as? String == "team-1" }.last?["syncState"] as? String == "completed")
        #expect(events.filter { $0["kind"] as? String == "__resync__" }.compactMap { $0["syncState"] as? String } == ["syncing", "completed"])
        let reconciliation = try #require(events.last { $0["kind"] as? String == "__reconciliation__" })
        #expect(reconciliation["syncState"] as? String == "completed")
        await harness.stop()
    }

    @Test("the first 5 raw records of each kind go to Port as examples, secrets masked")
    func examples() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "service") { _ in
            SinglePage(records: (0..<12).map { .object(["id": .string("s\($0)"), "apiToken": .string("tok-\($0)-value"), "nested": .object(["password": .string("pw")])]) })
        }
        ocean.onResync(kind: "team") { _ in SinglePage(records: [.object(["id": .string("t1")]), .object(["id": .string("t2")])]) }
        let harness = try await PortHarness.start(ocean, mapping: portMapping(["service", "team"]))
        _ = try await harness.run()
        await harness.flushReports()
        let examples = await harness.port.examples
        let services = try #require(examples["service"].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [[String: Any]])
        #expect(services.count == 5)
        #expect(services.map { $0["id"] as? String } == ["s0", "s1", "s2", "s3", "s4"])
        #expect(services.allSatisfy { $0["apiToken"] as? String == "[REDACTED]" })
        #expect(services.allSatisfy { ($0["nested"] as? [String: Any])?["password"] as? String == "[REDACTED]" })
        #expect(examples["team"]?.contains("t2") == true)
        await harness.stop()

        var off = PortSyncReporter.Settings()
        off.sendExamples = false
        let quiet = try await PortHarness.start(ocean, mapping: portMapping(["service", "team"]), reporterSettings: off)
        _ = try await quiet.run()
        await quiet.flushReports()
        #expect(await quiet.port.examples.isEmpty)
        await quiet.stop()
    }

    @Test("a heartbeat goes out while a job runs")
    func heartbeat() async throws {
        let source = CountingSource(["service": 60])
        var settings = PortSyncReporter.Settings()
        settings.heartbeatInterval = .milliseconds(50)
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service"]), reporterSettings: settings)
        await harness.port.setLatency(.milliseconds(100))
        _ = try await harness.run()
        await harness.flushReports()
        #expect(await harness.port.heartbeats >= 2)
        await harness.stop()
    }

    @Test("Port failing or slow on reports never fails or holds up a job; a full queue drops, counted")
    func neverInTheWay() async throws {
        let source = CountingSource(["service": 30])
        var settings = PortSyncReporter.Settings()
        settings.queueCapacity = 2
        settings.drainTime = .milliseconds(200)
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service"]), reporterSettings: settings)
        await harness.port.inject(.init(pathPrefix: "/v1/ingest", status: 500, times: 1000))
        await harness.port.inject(.init(pathPrefix: "/v1/integration/test-integration/resync-state", status: 503, times: 1000))
        let job = try await harness.run()
        #expect(job.status == .succeeded)
        #expect(job.progress[0].upserted == 30)
        await harness.flushReports()
        #expect(harness.reporter.dropped > 0)
        await harness.stop()
    }

    @Test("records Port refuses make the job partial; Port hears completed, with the failures in the kind's metrics")
    func partial() async throws {
        let source = CountingSource(["service": 10])
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service"]))
        await harness.port.reject(identifiers: ["service-3", "service-4"])
        let job = try await harness.run()
        #expect(job.status == .partial)
        #expect(job.progress[0].failed == 2)
        await harness.flushReports()
        #expect(await harness.port.resyncStates.last?.contains(#""status":"completed""#) == true)
        let last = try #require(await harness.port.syncMetrics.map(Self.object).last { $0["kindIdentifier"] as? String == "service-0" })
        #expect(Self.count(last, "load", "failed") == 2)
        #expect(Self.count(last, "load", "loaded") == 8)
        await harness.stop()
    }

    @Test("an organisation without the blueprints refuses every entity: the job failed, not succeeded, and says why")
    func nothingWritten() async throws {
        let source = CountingSource(["service": 10, "team": 0])
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service", "team"]), blueprintsExist: false)
        let job = try await harness.run()
        let service = try #require(job.progress.first { $0.kind == "service" })
        #expect(service.status == .failed)
        #expect(service.upserted == 0 && service.failed == 10)
        #expect(service.error == "every record or entity of it failed (10); the first problems are in errors")
        #expect(service.errors.first?.contains(#"Blueprint with identifier "service" was not found"#) == true)
        // "team" had nothing to write and nothing failed: it succeeded, so the job is partial.
        #expect(job.status == .partial)
        let (alone, _) = try await harness.coordinator.request(.kind("service"), trigger: .http)
        #expect(await harness.coordinator.waitUntilFinished(alone.id)?.status == .failed)
        await harness.flushReports()
        #expect(await harness.port.syncMetrics.map(Self.object).last { $0["kindIdentifier"] as? String == "service-0" }?["syncState"] as? String == "failed")
        await harness.stop()
    }

    @Test("an entity written through a search identifier is the one Port matched: never stale")
    func searchIdentifier() async throws {
        let ocean = OceanIntegration(type: "test")
        ocean.onResync(kind: "link") { _ in SinglePage(records: [.object(["id": .string("svc-a"), "tier": .string("gold")])]) }
        let mapping = """
            entityDeletionThreshold: 1
            resources:
              - kind: link
                selector: {query: 'true'}
                port:
                  entity:
                    mappings:
                      identifier: '{combinator: "and", rules: [{property: "$identifier", operator: "=", value: .id}]}'
                      blueprint: '"service"'
                      properties: {tier: .tier}
            """
        let harness = try await PortHarness.start(ocean, mapping: mapping)
        await harness.port.seed(blueprint: "service", identifiers: ["svc-a"], datasource: harness.client.settings.userAgent)
        let job = try await harness.run()
        #expect(job.status == .succeeded)
        #expect(job.progress[0].upserted == 1)
        #expect(job.reconciliation.first?.stale == 0)
        let entity = Self.object(try #require(await harness.port.entities(blueprint: "service")["svc-a"]))
        #expect((entity["properties"] as? [String: Any])?["tier"] as? String == "gold")
        await harness.stop()
    }
}

/// Unchanged entities into Port: not sent again, and what may differ is sent again.
@Suite("Unchanged entities into Port")
struct PortUnchangedTests {
    @Test("an unchanged job sends no upsert; a timed-out write is sent again by the next job; full=true rewrites what Port lost")
    func unchanged() async throws {
        let source = CountingSource(["service": 30])
        let harness = try await PortHarness.start(
            source.integration(), mapping: portMapping(["service"]), requestTimeout: .milliseconds(500),
            retry: RetryPolicy(maxAttempts: 1, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(20)), mappingFromPort: false,
            skipsUnchanged: true)
        let bulk = { await harness.port.requestCounts["POST /v1/blueprints/{bp}/entities/bulk"] ?? 0 }
        // Port too slow: the writes time out, their outcome unknown.
        await harness.port.setLatency(.seconds(1))
        let lost = try await harness.run()
        #expect(lost.progress[0].upserted == 0)
        await harness.port.setLatency(.zero)
        let retried = try await harness.run()
        #expect(retried.progress[0].upserted == 30 && retried.progress[0].unchanged == 0)
        #expect(await harness.port.entities(blueprint: "service").count == 30)

        let before = await bulk()
        let quiet = try await harness.run()
        #expect(quiet.status == .succeeded)
        #expect(quiet.progress[0].unchanged == 30 && quiet.progress[0].upserted == 0)
        #expect(await bulk() == before, "an unchanged job sent upserts")
        #expect(quiet.reconciliation.first?.stale == 0 && quiet.reconciliation.first?.deleted == 0)

        // Deleted in Port behind the service's back: a full job writes it again.
        _ = try await harness.client.call("POST", "/v1/blueprints/service/bulk/entities/delete", body: Array(#"{"entities":["service-4"]}"#.utf8))
        #expect(try await harness.run().progress[0].unchanged == 30)
        let (full, _) = try await harness.coordinator.request(.allKinds, trigger: .http, full: true)
        let rewritten = try #require(await harness.coordinator.waitUntilFinished(full.id))
        #expect(rewritten.progress[0].upserted == 30)
        #expect(await harness.port.entities(blueprint: "service")["service-4"] != nil)
        await harness.stop()
    }
}

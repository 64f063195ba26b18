import FakePort
import Foundation
import Logging
import OceanKit
import OceanEngine
import OceanPort
import Testing

@Suite("Port as the destination, against a Port-like API on loopback")
struct PortSinkTests {
    @Test("a resync loads entities with the ownership User-Agent, reads the mapping from Port and reports resync state")
    func resyncIntoPort() async throws {
        let source = CountingSource(["service": 45, "team": 3])
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service", "team"]))
        let integration = try #require(await harness.port.integration)
        #expect(integration.contains(#""installationAppType":"test""#))
        #expect(integration.contains(#""config":"#))
        let job = try await harness.run()
        #expect(job.status == .succeeded)
        #expect(job.progress.map(\.upserted) == [45, 3])
        let services = await harness.port.entities(blueprint: "service")
        #expect(services.count == 45)
        #expect(await harness.port.datasource(blueprint: "service", identifier: "service-7") == "port-ocean/test/\(SwiftOcean.frameworkVersion)/test-integration/exporter")
        await harness.flushReports()
        let states = await harness.port.resyncStates
        #expect(states.count == 2)
        #expect(states.first?.contains(#""status":"running""#) == true)
        #expect(states.last?.contains(#""status":"completed""#) == true)
        #expect(states.last?.contains(#""intervalInMinuets":60"#) == true)
        let counts = await harness.port.requestCounts
        #expect(counts["POST /v1/blueprints/{bp}/entities/bulk"] == 3 + 1)   // 45 -> 20+20+5, 3 -> 3
        await harness.stop()
    }

    @Test("an expired token is refreshed once on a 401 and the call retried")
    func tokenRefresh() async throws {
        let source = CountingSource(["service": 10])
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service"]))
        _ = try await harness.run()
        await harness.port.expireTokens()
        let job = try await harness.run()
        #expect(job.status == .succeeded)
        #expect(await harness.port.tokensIssued == 2)
        await harness.stop()
    }

    @Test("429 with Retry-After and a 500 are retried, honouring the wait")
    func retries() async throws {
        let source = CountingSource(["service": 10])
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service"]))
        await harness.port.inject(.init(pathPrefix: "/v1/blueprints/service/entities/bulk", status: 429, retryAfterSeconds: 0.4))
        await harness.port.inject(.init(pathPrefix: "/v1/blueprints/service/entities/bulk", status: 500))
        let started = ContinuousClock.now
        let job = try await harness.run()
        #expect(ContinuousClock.now - started >= .milliseconds(400))
        #expect(job.status == .succeeded)
        #expect(job.progress[0].upserted == 10)
        #expect(await harness.port.requestCounts["POST /v1/blueprints/{bp}/entities/bulk"] == 3)
        await harness.stop()
    }

    @Test("a 413 splits the batch down to single upserts; an entity too large alone fails by itself")
    func split() async throws {
        let source = CountingSource(["service": 20], bioBytes: 1000)
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service"]))
        await harness.port.setMaxBodyBytes(5000)
        let job = try await harness.run()
        #expect(job.progress[0].upserted == 20)
        #expect(job.progress[0].failed == 0)
        #expect(await harness.port.bodiesOverLimit > 0)
        #expect(await harness.port.entities(blueprint: "service").count == 20)
        await harness.port.setMaxBodyBytes(500)
        let tooLarge = try await harness.run()
        #expect(tooLarge.progress[0].failed == 20)
        #expect(tooLarge.progress[0].errors.first?.contains("larger than Port accepts") == true)
        await harness.stop()
    }

    @Test("per-entity errors fail those entities only, and protect their blueprint from deletion")
    func perEntityErrors() async throws {
        let source = CountingSource(["service": 30])
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service"]))
        _ = try await harness.run()
        await harness.port.reject(identifiers: ["service-3", "service-21"])
        source.set("service", 25)
        let job = try await harness.run()
        #expect(job.progress[0].upserted == 23)
        #expect(job.progress[0].failed == 2)
        #expect(job.progress[0].errors.contains { $0.contains("service-3") && $0.contains("rejected by the test") })
        #expect(job.reconciliation.first?.skipped?.contains("had 2 failed records") == true)
        #expect(await harness.port.entities(blueprint: "service").count == 30)
        await harness.stop()
    }

    @Test("slow responses time out; when the retries run out the kind fails with a clear message")
    func timeouts() async throws {
        let source = CountingSource(["service": 5, "team": 0])
        let harness = try await PortHarness.start(
            source.integration(), mapping: portMapping(["service", "team"]), requestTimeout: .seconds(1),
            retry: RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(20)),
            mappingFromPort: false)
        await harness.port.setLatency(.seconds(3))
        let job = try await harness.run()
        #expect(job.status == .partial)   // "team" (no records) succeeded
        let service = try #require(job.progress.first { $0.kind == "service" })
        #expect(service.status == .failed)
        #expect(service.error?.contains("writing to the Port API failed") == true)
        #expect(service.error?.contains("gave up after 2 attempts") == true)
        await harness.stop()
    }

    @Test("requests in flight stay within the bound")
    func concurrencyBound() async throws {
        let source = CountingSource(["a": 400, "b": 400, "c": 400])
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["a", "b", "c"]), maxConcurrentRequests: 3)
        await harness.port.setLatency(.milliseconds(20))
        let job = try await harness.run()
        #expect(job.status == .succeeded)
        let maxInFlight = await harness.port.maxInFlight
        #expect(maxInFlight <= 3)
        #expect(maxInFlight >= 2)
        await harness.stop()
    }

    @Test("after the source shrinks, exactly the missing entities are deleted, across pages of owned entities")
    func shrinkAcrossPages() async throws {
        let source = CountingSource(["service": 6000], bioBytes: 10)
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service"]))
        // Someone else's entities of the same blueprint are never touched.
        await harness.port.seed(blueprint: "service", identifiers: ["theirs-1"], datasource: "port-ocean/other/1/other/exporter")
        #expect(try await harness.run().status == .succeeded)
        source.set("service", 5500)
        let job = try await harness.run()
        let outcome = try #require(job.reconciliation.first)
        #expect(outcome == BlueprintReconciliation(blueprint: "service", ownedBefore: 6000, upserted: 5500, stale: 500, deleted: 500))
        let remaining = await harness.port.entities(blueprint: "service")
        #expect(remaining.count == 5501)
        #expect(remaining["service-5499"] != nil && remaining["service-5500"] == nil && remaining["theirs-1"] != nil)
        let counts = await harness.port.requestCounts
        #expect(counts["POST /v1/blueprints/{bp}/bulk/entities/delete"] == 5)
        // One listing a job, at its start (the end compares with it): a page of nothing, then 2 of 6,000.
        #expect(counts["POST /v1/blueprints/entities/datasource-entities"] == 3)
        await harness.stop()
    }

    @Test("the deletion threshold holds in Port too")
    func threshold() async throws {
        let source = CountingSource(["service": 100])
        let harness = try await PortHarness.start(source.integration(), mapping: portMapping(["service"], threshold: 0.5))
        _ = try await harness.run()
        source.set("service", 30)
        let job = try await harness.run()
        #expect(job.reconciliation.first?.skipped == "deletion threshold exceeded: 70 of 100 owned entities are stale (entityDeletionThreshold 0.5)")
        #expect(await harness.port.entities(blueprint: "service").count == 100)
        await harness.stop()
    }

    @Test("wrong credentials fail the job with a message that does not carry the secret")
    func badCredentials() async throws {
        let fake = FakePort(clientSecret: "the-real-secret")
        try await fake.start()
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        let client = PortClient(settings: PortSettings(clientID: "client-id", clientSecret: "wrong-secret-value", baseURL: fake.baseURL,
                                                       integrationType: "test", integrationIdentifier: "x"), logger: logger)
        do {
            _ = try await client.callExpectingSuccess("GET", "/v1/integration/x")
            Issue.record("accepted bad credentials")
        } catch {
            #expect("\(error)".contains("refused the credentials"))
            #expect(!"\(error)".contains("wrong-secret-value"))
        }
        await client.shutdown()
        await fake.stop()
    }
}

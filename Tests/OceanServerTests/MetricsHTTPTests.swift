import Foundation
import OceanKit
import OceanEngine
import OceanIntegrations
import OceanServer
import Testing
import TestSupport

/// `GET /metrics` while a resync runs: the families an operator alerts on, with the right types.
@Suite("GET /metrics")
struct MetricsHTTPTests {
    /// The value of the series whose line starts with `prefix` (name and labels), or nil.
    static func value(_ text: String, _ prefix: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(prefix + " ") {
            return Double(line.dropFirst(prefix.count + 1))
        }
        return nil
    }

    @Test("during a resync: requests by route and status, latency histogram, running jobs, records per kind, webhooks, queue depths")
    func duringResync() async throws {
        // 1,000 persons in pages of 10 that take 20 ms each: the job runs for seconds.
        let service = try await TestService.start(environment: [
            "OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "200", "OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_BATCH_SIZE": "10",
            "OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_LATENCY_MS": "20", "OCEAN__INTEGRATION__CONFIG__WEBHOOK_INSECURE": "true",
        ])
        let port = service.port
        let accepted = try await fetch(port: port, "POST", "/resync")
        let id = try #require(accepted.json?["id"] as? String)
        // Wait until persons are flowing, then scrape while the job still runs.
        var fetched = 0
        while fetched == 0 {
            let job = try await fetch(port: port, "GET", "/jobs/\(id)")
            let progress = job.json?["progress"] as? [[String: Any]] ?? []
            fetched = progress.first { $0["kind"] as? String == "fake-person" }?["fetched"] as? Int ?? 0
            if fetched > 0 { #expect(job.json?["status"] as? String == "running") }
            if fetched == 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
        let body = Array(#"{"action":"upsert","person":{"id":"hr-0","name":"Ada"}}"#.utf8)
        #expect(try await fetch(port: port, "POST", "/integration/webhook", body: body).status == 202)
        _ = try await fetch(port: port, "GET", "/nowhere")

        let scrape = try await fetch(port: port, "GET", "/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = scrape.text
        for (family, type) in [
            ("http_requests_total", "counter"), ("http_request_duration_seconds", "histogram"), ("ocean_jobs", "gauge"),
            ("ocean_jobs_total", "counter"), ("ocean_job_duration_seconds", "histogram"), ("ocean_records_total", "counter"),
            ("ocean_webhook_deliveries_total", "counter"), ("ocean_webhook_queue_depth", "gauge"),
            ("ocean_webhook_apply_latency_seconds", "histogram"), ("ocean_reconciliations_skipped_total", "counter"),
        ] {
            #expect(text.contains("# TYPE \(family) \(type)\n"), "no \(type) \(family) in:\n\(text)")
        }
        // Routes are patterns, not paths: a job id does not make a series.
        #expect((Self.value(text, #"http_requests_total{method="GET",route="/jobs/{id}",status="200"}"#) ?? 0) >= 1)
        #expect(Self.value(text, #"http_requests_total{method="POST",route="/resync",status="202"}"#) == 1)
        #expect(Self.value(text, #"http_requests_total{method="GET",route="unmatched",status="404"}"#) == 1)
        #expect(!text.contains(id))
        #expect((Self.value(text, #"http_request_duration_seconds_count{route="/jobs/{id}"}"#) ?? 0) >= 1)
        #expect(Self.value(text, #"ocean_jobs{status="running"}"#) == 1)
        #expect((Self.value(text, #"ocean_records_total{kind="fake-person",outcome="fetched"}"#) ?? 0) >= 10)
        #expect(Self.value(text, #"ocean_records_total{kind="fake-department",outcome="upserted"}"#) == 5)
        #expect(Self.value(text, #"ocean_webhook_deliveries_total{outcome="accepted"}"#) == 1)

        _ = try await fetch(port: port, "POST", "/jobs/\(id)/cancel")
        let deadline = ContinuousClock.now + .seconds(30)
        var after = ""
        repeat {
            try await Task.sleep(for: .milliseconds(20))
            after = try await fetch(port: port, "GET", "/metrics").text
        } while Self.value(after, #"ocean_jobs_total{status="cancelled"}"#) != 1 && ContinuousClock.now < deadline
        #expect(Self.value(after, #"ocean_jobs_total{status="cancelled"}"#) == 1)
        #expect(Self.value(after, #"ocean_jobs{status="running"}"#) == 0)
        #expect(Self.value(after, #"ocean_job_duration_seconds_count{status="cancelled"}"#) == 1)
        await service.stop()
    }

    @Test("OCEAN__METRICS__ENABLED=false: nothing is counted and /metrics is 404")
    func disabled() async throws {
        let service = try await TestService.start(environment: ["OCEAN__METRICS__ENABLED": "false"])
        let accepted = try await fetch(port: service.port, "POST", "/resync")
        let id = try #require(accepted.json?["id"] as? String)
        _ = await service.application.coordinator.waitUntilFinished(id)
        let scrape = try await fetch(port: service.port, "GET", "/metrics")
        #expect(scrape.status == 404)
        #expect(scrape.text.contains("OCEAN__METRICS__ENABLED"))
        #expect(service.application.metrics.registry.emitToString().isEmpty)
        await service.stop()
    }
}

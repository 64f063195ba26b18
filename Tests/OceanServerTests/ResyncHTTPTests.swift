import FakePort
import Foundation
import Logging
import OceanKit
import OceanEngine
import OceanServer
import Testing
import TestSupport

/// Resyncs over HTTP, end to end: the real service, the fake integration, a real catalog file.
@Suite("Resync and jobs over HTTP")
struct ResyncHTTPTests {
    static let token = "test-token-0123456789abcdef"

    /// Polls `GET /jobs/{id}` until the job has finished.
    func finished(_ id: String, port: Int, headers: [(String, String)] = []) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let response = try await fetch(port: port, "GET", "/jobs/\(id)", headers: headers)
            let job = try #require(response.json)
            if let status = job["status"] as? String, ["succeeded", "failed", "cancelled"].contains(status) { return job }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestHTTPError("job \(id) did not finish")
    }

    @Test("POST /resync fills the catalog; counts are exact; GET /jobs and GET /entities show it")
    func endToEnd() async throws {
        let service = try await TestService.start(environment: ["OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "30",
                                                                "OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_BATCH_SIZE": "7"])
        let port = service.port
        let accepted = try await fetch(port: port, "POST", "/resync")
        #expect(accepted.status == 202)
        let id = try #require(accepted.json?["id"] as? String)
        #expect(accepted.header("Location") == "/jobs/\(id)")
        #expect(accepted.json?["status"] as? String == "queued")
        #expect(accepted.json?["trigger"] as? String == "http")

        let job = try await finished(id, port: port)
        #expect(job["status"] as? String == "succeeded")
        let progress = try #require(job["progress"] as? [[String: Any]])
        let byKind = Dictionary(uniqueKeysWithValues: progress.map { ($0["kind"] as! String, $0) })
        #expect(byKind["fake-department"]?["fetched"] as? Int == 5)
        #expect(byKind["fake-department"]?["upserted"] as? Int == 5)
        #expect(byKind["fake-person"]?["fetched"] as? Int == 150)
        #expect(byKind["fake-person"]?["upserted"] as? Int == 150)
        #expect(byKind["fake-person"]?["failed"] as? Int == 0)
        #expect(job["startedAt"] is String && job["finishedAt"] is String)
        #expect(job["error"] is NSNull)

        let single = try await fetch(port: port, "GET", "/entities?identifier=hr-3")
        #expect((single.json?["entities"] as? [[String: Any]])?.map { $0["identifier"] as? String } == ["hr-3"])
        let persons = try await fetch(port: port, "GET", "/entities?blueprint=fake-person&limit=1000")
        let entities = try #require(persons.json?["entities"] as? [[String: Any]])
        #expect(entities.count == 150)
        let first = try #require(entities.first)
        #expect(first["blueprint"] as? String == "fake-person")
        #expect((first["relations"] as? [String: Any])?["department"] is String)
        #expect(((first["properties"] as? [String: Any])?["bio"] as? String)?.utf8.count == 1024)

        let list = try await fetch(port: port, "GET", "/jobs?status=succeeded&kind=fake-person&limit=5")
        #expect((list.json?["jobs"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])
        let none = try await fetch(port: port, "GET", "/jobs?status=failed")
        #expect((none.json?["jobs"] as? [Any])?.isEmpty == true)

        let one = try await fetch(port: port, "POST", "/resync/fake-department")
        let oneJob = try await finished(try #require(one.json?["id"] as? String), port: port)
        #expect(oneJob["kinds"] as? [String] == ["fake-department"])
        #expect((oneJob["progress"] as? [[String: Any]])?.count == 1)
        await service.stop()
    }

    @Test("requests coalesce into a queued job over HTTP")
    func coalescedOverHTTP() async throws {
        let service = try await TestService.start(environment: ["OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "2000",
                                                                "OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_LATENCY_MS": "50"])
        let port = service.port
        let running = try await fetch(port: port, "POST", "/resync")
        let queued = try await fetch(port: port, "POST", "/resync")
        let again = try await fetch(port: port, "POST", "/resync/fake-person")
        #expect(queued.json?["id"] as? String != running.json?["id"] as? String)
        #expect(again.json?["id"] as? String == queued.json?["id"] as? String)
        #expect(again.header("X-Coalesced") == "true")
        #expect(queued.header("X-Coalesced") == nil)
        // The catalog answers reads while the resync writes.
        #expect(try await fetch(port: port, "GET", "/entities?limit=5").status == 200)

        let cancel = try await fetch(port: port, "POST", "/jobs/\(try #require(running.json?["id"] as? String))/cancel")
        #expect(cancel.status == 202)
        #expect(cancel.json?["cancelRequested"] as? Bool == true)
        let cancelled = try await finished(try #require(running.json?["id"] as? String), port: port)
        #expect(cancelled["status"] as? String == "cancelled")
        let again409 = try await fetch(port: port, "POST", "/jobs/\(try #require(running.json?["id"] as? String))/cancel")
        #expect(again409.status == 409)
        #expect(again409.errorCode == "conflict")
        _ = try await fetch(port: port, "POST", "/jobs/\(try #require(queued.json?["id"] as? String))/cancel")
        await service.stop()
    }

    @Test("bad input gets a clear error and changes nothing", arguments: [
        ("POST", "/resync/no-such-kind", 404, "not_found"),
        ("GET", "/jobs/job_doesnotexist0000", 404, "not_found"),
        ("GET", "/jobs/%00", 400, "bad_request"),
        ("POST", "/jobs/nope/cancel", 404, "not_found"),
        ("GET", "/jobs?limit=0", 400, "bad_request"),
        ("GET", "/jobs?limit=501", 400, "bad_request"),
        ("GET", "/jobs?limit=ten", 400, "bad_request"),
        ("GET", "/jobs?status=done", 400, "bad_request"),
        ("GET", "/entities?limit=100000", 400, "bad_request"),
        ("DELETE", "/jobs", 405, "method_not_allowed"),
        ("GET", "/resync", 405, "method_not_allowed"),
    ])
    func badInput(method: String, path: String, status: Int, code: String) async throws {
        let service = try await TestService.start()
        let response = try await fetch(port: service.port, method, path)
        #expect(response.status == status)
        #expect(response.errorCode == code)
        let jobs = try await fetch(port: service.port, "GET", "/jobs")
        #expect((jobs.json?["jobs"] as? [Any])?.isEmpty == true)
        await service.stop()
    }

    @Test("with OCEAN__HTTP__API_TOKEN, resync, jobs and entities need the bearer token; health stays open")
    func token() async throws {
        let service = try await TestService.start(environment: ["OCEAN__HTTP__API_TOKEN": Self.token])
        let port = service.port
        for (method, path) in [("POST", "/resync"), ("POST", "/resync/fake-person"), ("GET", "/jobs"), ("GET", "/jobs/x"),
                               ("POST", "/jobs/x/cancel"), ("GET", "/entities")] {
            let missing = try await fetch(port: port, method, path)
            #expect(missing.status == 401, "\(method) \(path)")
            #expect(missing.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            let wrong = try await fetch(port: port, method, path, headers: [("Authorization", "Bearer nope")])
            #expect(wrong.status == 401)
            let basic = try await fetch(port: port, method, path, headers: [("Authorization", "Basic \(Self.token)")])
            #expect(basic.status == 401)
            #expect(!wrong.text.contains(Self.token))
        }
        #expect(try await fetch(port: port, "GET", "/health/live").status == 200)
        let jobs = try await fetch(port: port, "GET", "/jobs")
        #expect(jobs.status == 401)
        let authorized = try await fetch(port: port, "POST", "/resync", headers: [("Authorization", "Bearer \(Self.token)")])
        #expect(authorized.status == 202)
        let id = try #require(authorized.json?["id"] as? String)
        _ = try await finished(id, port: port, headers: [("Authorization", "bearer \(Self.token)")])
        await service.stop()
    }

    @Test("job history survives a restart of the service")
    func historySurvivesRestart() async throws {
        let first = try await TestService.start()
        let accepted = try await fetch(port: first.port, "POST", "/resync")
        let id = try #require(accepted.json?["id"] as? String)
        _ = try await finished(id, port: first.port)
        await first.stop()
        let catalog = first.folder.appendingPathComponent("catalog.sqlite").path
        let second = try await TestService.start(environment: ["OCEAN__CATALOG__PATH": catalog])
        let job = try await fetch(port: second.port, "GET", "/jobs/\(id)")
        #expect(job.status == 200)
        #expect(job.json?["status"] as? String == "succeeded")
        await second.stop()
    }
}

@Suite("Resync triggers")
struct ResyncTriggerTests {
    @Test("a resync runs at start and then on the schedule")
    func startupAndSchedule() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-schedule-\(UUID().uuidString)")
        var settings = try ServiceSettings.load(from: Environment(values: [
            "OCEAN__CATALOG__PATH": folder.appendingPathComponent("catalog.sqlite").path,
            "APPLICATION__HOST": "127.0.0.1", "APPLICATION__PORT": "0",
        ]), integrations: .builtIn)
        settings.scheduledResyncInterval = .milliseconds(300)
        var logger = Logger(label: "test.schedule")
        logger.logLevel = .critical
        let application = try OceanApplication(settings: settings, integrations: .builtIn, logger: logger)
        let running = Task { try await application.run() }
        let deadline = ContinuousClock.now + .seconds(90)
        var triggers: [Job.Trigger] = []
        while ContinuousClock.now < deadline {
            triggers = await application.coordinator.jobs(limit: 100).map(\.trigger)
            if triggers.filter({ $0 == .schedule }).count >= 2 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        running.cancel()
        do { try await running.value } catch is CancellationError {} catch { Issue.record("the service failed: \(error)") }
        #expect(triggers.filter { $0 == .startup }.count == 1)
        #expect(triggers.filter { $0 == .schedule }.count >= 2)
        #expect(triggers.last == .startup)
    }
}

@Suite("The service with Port as the destination")
struct PortServiceTests {
    /// A Port-like API, and the service with it as the destination.
    static func start(_ environment: [String: String] = [:]) async throws -> (FakePort, TestService) {
        let port = FakePort()
        try await port.start()
        let service = try await TestService.start(environment: [
            "OCEAN__PORT__CLIENT_ID": port.clientID, "OCEAN__PORT__CLIENT_SECRET": port.clientSecret, "OCEAN__PORT__BASE_URL": port.baseURL,
        ].merging(environment) { $1 })
        return (port, service)
    }

    @Test("webhook deliveries use the mapping the last job read, without asking Port each; a job reads it afresh")
    func mappingCached() async throws {
        let (port, service) = try await Self.start(["OCEAN__INTEGRATION__CONFIG__WEBHOOK_INSECURE": "true"])
        let reads = { await port.requestCounts["GET /v1/integration/{id}"] ?? 0 }
        let accepted = try await fetch(port: service.port, "POST", "/resync")
        let id = try #require(accepted.json?["id"] as? String)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, try await fetch(port: service.port, "GET", "/jobs/\(id)").json?["status"] as? String != "succeeded" {
            try await Task.sleep(for: .milliseconds(20))
        }
        let afterJob = await reads()
        for n in 0..<5 {
            let body = Array(#"{"action":"upsert","person":{"id":"hook-\#(n)","name":"Hook","department":{"id":"hr","name":"HR"}}}"#.utf8)
            #expect(try await fetch(port: service.port, "POST", "/integration/webhook", body: body).status == 202)
        }
        while ContinuousClock.now < deadline, await port.entities(blueprint: "fake-person")["hook-4"] == nil {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await port.entities(blueprint: "fake-person")["hook-4"] != nil)
        #expect(await reads() == afterJob, "deliveries asked Port for the mapping")
        await service.stop()
        await port.stop()
    }

    @Test("POST /resync writes to Port; GET /entities says the entities are in Port")
    func entitiesInPort() async throws {
        let (port, service) = try await Self.start()
        let accepted = try await fetch(port: service.port, "POST", "/resync")
        let id = try #require(accepted.json?["id"] as? String)
        let deadline = ContinuousClock.now + .seconds(30)
        var status = ""
        while ContinuousClock.now < deadline {
            status = try await fetch(port: service.port, "GET", "/jobs/\(id)").json?["status"] as? String ?? ""
            if status == "succeeded" || status == "failed" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(status == "succeeded")
        #expect(await port.entities(blueprint: "fake-person").count == 100)
        let entities = try await fetch(port: service.port, "GET", "/entities")
        #expect(entities.status == 404)
        #expect(entities.text.contains("the destination is Port"))
        await service.stop()
        await port.stop()
    }
}

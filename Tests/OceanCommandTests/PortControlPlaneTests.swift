import FakePort
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `ocean serve` against the Port-like API started empty, as a new Port user runs it: provisioning,
/// the first job, what Port sees, Port's resync button and mapping edits, honest outcomes.
@Suite("ocean serve driven by Port")
struct PortControlPlaneTests {
    static func environment(_ port: FakePort, identifier: String, _ extra: [String: String] = [:]) -> [String: String] {
        ResyncCommandTests.environment([
            "OCEAN__PORT__CLIENT_ID": port.clientID, "OCEAN__PORT__CLIENT_SECRET": port.clientSecret, "OCEAN__PORT__BASE_URL": port.baseURL,
            "OCEAN__INTEGRATION__IDENTIFIER": identifier, "OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "4",
            "OCEAN__EVENT_LISTENER__RESYNC_POLLING_INTERVAL": "1",
        ]).merging(extra) { $1 }
    }

    static func object(_ text: String?) -> [String: Any] {
        (text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]) ?? [:]
    }

    /// The service's finished jobs of `trigger`, newest first.
    static func finishedJobs(_ port: Int, trigger: String, headers: [(String, String)] = []) async throws -> [[String: Any]] {
        let jobs = try await fetch(port: port, "GET", "/jobs?limit=100", headers: headers).json?["jobs"] as? [[String: Any]] ?? []
        return jobs.filter { $0["trigger"] as? String == trigger && !["queued", "running"].contains($0["status"] as? String ?? "") }
    }

    /// Waits until there are `count` finished jobs of `trigger`; returns the newest.
    static func job(_ port: Int, trigger: String, count: Int = 1, headers: [(String, String)] = []) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(40)
        while ContinuousClock.now < deadline {
            let jobs = try await finishedJobs(port, trigger: trigger, headers: headers)
            if jobs.count >= count, let newest = jobs.first { return newest }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestHTTPError("no \(count) finished \(trigger) job(s)")
    }

    /// Waits until `condition` holds of the fake.
    static func eventually(_ what: String, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestHTTPError("never: \(what)")
    }

    /// The fake integration's default mapping as Port holds it, with the persons' title from `title`.
    static func mapping(personTitle title: String) -> String {
        """
        {"resources": [
          {"kind": "fake-department", "selector": {"query": "true"}, "port": {"entity": {"mappings": {
            "identifier": ".id", "title": ".name", "blueprint": "\\"fake-department\\"", "properties": {"name": ".name", "id": ".id"}}}}},
          {"kind": "fake-person", "selector": {"query": "true"}, "port": {"entity": {"mappings": {
            "identifier": ".id", "title": "\(title)", "blueprint": "\\"fake-person\\"",
            "properties": {"name": ".name", "email": ".email"}, "relations": {"department": ".department.id"}}}}}
        ]}
        """
    }

    @Test("a fresh organisation: blueprints provisioned, the first job, sync metrics and examples, resync requests and mapping edits, partial jobs")
    func freshOrganisation() async throws {
        let port = FakePort()
        try await port.start()
        let environment = Self.environment(port, identifier: "fresh", ["OCEAN__SEND_LOGS_TO_PORT": "true"])
        let service = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "0"], environment: environment)
        defer { kill(service.process.processIdentifier, SIGKILL) }
        let http = try await service.port()

        let first = try await Self.job(http, trigger: "startup")
        #expect(first["status"] as? String == "succeeded", "\(first)\n\(service.output)")
        let blueprints = await port.blueprints
        #expect(blueprints.keys.sorted() == ["fake-department", "fake-person"])
        let person = Self.object(blueprints["fake-person"])
        #expect(((person["relations"] as? [String: Any])?["department"] as? [String: Any])?["target"] as? String == "fake-department")
        #expect(Self.object(await port.integration)["arePortResourcesInitialized"] as? Bool == true)
        #expect(await port.entities(blueprint: "fake-person").count == 20)

        try await Self.eventually("the job's end reported") {
            await port.syncMetrics.map(Self.object).contains { $0["kind"] as? String == "__resync__" && $0["syncState"] as? String == "completed" }
        }
        let events = await port.syncMetrics.map(Self.object)
        for kind in ["fake-department-0", "fake-person-1"] {
            #expect(events.filter { $0["kindIdentifier"] as? String == kind }.compactMap { $0["syncState"] as? String } == ["pending", "syncing", "completed"])
        }
        let examples = await port.examples
        #expect(examples.keys.sorted() == ["fake-department", "fake-person"])
        #expect((try? JSONSerialization.jsonObject(with: Data((examples["fake-person"] ?? "").utf8)) as? [Any])?.count == 5)
        let states = await port.resyncStates.map { Self.object($0)["status"] as? String ?? "" }
        #expect(Array(states.prefix(2)) == ["running", "completed"])

        // Port's "Resync" button.
        await port.requestResync(integration: "fresh")
        let requested = try await Self.job(http, trigger: "port")
        #expect(requested["status"] as? String == "succeeded")

        // A mapping saved in Port: the next job uses it.
        try await port.saveMapping(integration: "fresh", config: Self.mapping(personTitle: ".email"))
        _ = try await Self.job(http, trigger: "port", count: 2)
        let hr1 = Self.object(await port.entities(blueprint: "fake-person")["hr-1"])
        #expect(hr1["title"] as? String == "hr-1@fake.example.com", "\(hr1)")

        // An unchanged job sends nothing again.
        await port.requestResync(integration: "fresh")
        let unchanged = try await Self.job(http, trigger: "port", count: 3)
        let persons = (unchanged["progress"] as? [[String: Any]])?.first { $0["kind"] as? String == "fake-person" }
        #expect(persons?["unchanged"] as? Int == 20 && persons?["upserted"] as? Int == 0, "\(unchanged)")

        // Records Port refuses (the mapping changed back, so every entity is written again): the
        // job is partial, and Port still hears "completed".
        await port.reject(identifiers: ["hr-2"])
        try await port.saveMapping(integration: "fresh", config: Self.mapping(personTitle: ".name"))
        let partial = try await Self.job(http, trigger: "port", count: 4)
        #expect(partial["status"] as? String == "partial")
        kill(service.process.processIdentifier, SIGTERM)
        #expect(try await service.exitStatus(within: .seconds(20)) == 0)
        #expect(await port.resyncStates.last.map { Self.object($0)["status"] as? String } == "completed")
        let polls = await port.requestCounts["GET /v1/integration/{id}/resync-request"] ?? 0
        // The log lines went to Port's log ingest too, secrets masked.
        let shipped = await port.shippedLogs.map(Self.object)
        #expect(shipped.contains { $0["message"] as? String == "job finished" && $0["level"] as? String == "INFO" })
        #expect(!(await port.shippedLogs.joined()).contains(port.clientSecret))

        // A restart does not run the old request again (the last one acted on is stored; without
        // a job at start nothing else would cover it); nor is anything provisioned again.
        var quiet = environment
        quiet["OCEAN__RESYNC_ON_START"] = "false"
        let again = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "0"], environment: quiet)
        defer { kill(again.process.processIdentifier, SIGKILL) }
        let second = try await again.port()
        try await Self.eventually("two polls after the restart") {
            await port.requestCounts["GET /v1/integration/{id}/resync-request"] ?? 0 >= polls + 2
        }
        #expect(try await Self.finishedJobs(second, trigger: "port").count == 4)
        #expect(await port.requestCounts["POST /v1/blueprints"] == 2)
        kill(again.process.processIdentifier, SIGTERM)
        #expect(try await again.exitStatus(within: .seconds(20)) == 0)
        await port.stop()
    }

    @Test("WEBHOOK: the changelog destination is registered with a key when an API token is set; Port's call starts a job, others still need the token")
    func webhookListener() async throws {
        let port = FakePort()
        try await port.start()
        let http = try TestPort.free()
        let token = "the-api-token-of-this-test"
        let environment = Self.environment(port, identifier: "hooked", [
            "OCEAN__EVENT_LISTENER__TYPE": "WEBHOOK", "OCEAN__BASE_URL": "http://127.0.0.1:\(http)", "OCEAN__HTTP__API_TOKEN": token,
        ])
        let service = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "\(http)"], environment: environment)
        defer { kill(service.process.processIdentifier, SIGKILL) }
        _ = try await service.port()
        let bearer = [("Authorization", "Bearer \(token)")]
        _ = try await Self.job(http, trigger: "startup", headers: bearer)
        let destination = Self.object(await port.integration)["changelogDestination"] as? [String: Any]
        #expect(destination?["type"] as? String == "WEBHOOK")
        let url = try #require(destination?["url"] as? String)
        #expect(url.hasPrefix("http://127.0.0.1:\(http)/resync?port_key="))
        #expect(!url.contains(token))

        await port.requestResync(integration: "hooked")
        let job = try await Self.job(http, trigger: "port", headers: bearer)
        #expect(job["status"] as? String == "succeeded")
        #expect(await port.changelogCalls == [202])
        // Polling is off: Port calls.
        #expect(await port.requestCounts["GET /v1/integration/{id}/resync-request"] == nil)

        #expect(try await fetch(port: http, "POST", "/resync").status == 401)
        #expect(try await fetch(port: http, "POST", "/resync?port_key=not-the-key").status == 401)
        kill(service.process.processIdentifier, SIGTERM)
        #expect(try await service.exitStatus(within: .seconds(20)) == 0)
        let key = String(url.split(separator: "=").last ?? "")
        #expect(!service.output.contains(key), "the key is masked in the log")
        await port.stop()
    }

    @Test("ocean defaults apply creates the blueprints; clean asks, or with --force deletes them and their entities")
    func defaultsCommands() async throws {
        let port = FakePort()
        try await port.start()
        let environment = Self.environment(port, identifier: "by-hand")
        let apply = try await OceanProcess.run(["defaults", "apply"], environment: environment)
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(apply.stdout.contains("created the blueprints fake-department, fake-person"))
        let twice = try await OceanProcess.run(["defaults", "apply"], environment: environment)
        #expect(twice.stdout.contains("created nothing: these blueprints exist in Port already: fake-department, fake-person"))
        let resync = try await OceanProcess.run(["resync"], environment: environment)
        #expect(resync.status == 0, "\(resync.stderr)")
        #expect(await port.entities(blueprint: "fake-person").count == 20)

        let unasked = try await OceanProcess.run(["defaults", "clean"], environment: environment)
        #expect(unasked.status == 2)
        #expect(unasked.stderr.contains("give --force"))
        #expect(await port.blueprints.count == 2)
        let clean = try await OceanProcess.run(["defaults", "clean", "--force"], environment: environment)
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(clean.stdout.contains("deleted the blueprints fake-person, fake-department with their entities"))
        #expect(await port.blueprints.isEmpty)
        #expect(await port.entities(blueprint: "fake-person").isEmpty)
        #expect(Self.object(await port.integration)["arePortResourcesInitialized"] as? Bool == false)

        let noPort = try await OceanProcess.run(["defaults", "apply"], environment: ResyncCommandTests.environment())
        #expect(noPort.status == 2)
        #expect(noPort.stderr.contains("ocean defaults needs Port"))
        await port.stop()
    }
}

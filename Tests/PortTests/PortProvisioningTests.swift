import FakePort
import Foundation
import Logging
import OceanKit
import OceanEngine
import OceanPort
import Testing

/// Provisioning an integration's blueprints into a Port-like API that refuses what Port refuses.
@Suite("Provisioning Port's resources")
struct PortProvisioningTests {
    /// Two blueprints whose relations point at each other (so no order of single creations works),
    /// with a mirror property that needs the relation.
    static let blueprints = """
        [
          {"identifier": "team", "title": "Team", "schema": {"properties": {"name": {"type": "string"}}, "required": []},
           "relations": {"lead": {"target": "service", "required": false, "many": false}}},
          {"identifier": "service", "title": "Service", "schema": {"properties": {"tier": {"type": "string"}}, "required": []},
           "mirrorProperties": {"teamName": {"path": "owner.$title"}},
           "relations": {"owner": {"target": "team", "required": false, "many": false}}}
        ]
        """

    struct Harness {
        let port: FakePort
        let client: PortClient
        let provisioner: PortProvisioner

        static func start() async throws -> Harness {
            let port = FakePort()
            try await port.start()
            var logger = Logger(label: "test.provisioning")
            logger.logLevel = .critical
            let client = PortClient(settings: PortSettings(
                clientID: port.clientID, clientSecret: port.clientSecret, baseURL: port.baseURL, integrationType: "test",
                integrationIdentifier: "provisioned", retryPolicy: RetryPolicy(initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(20))),
                logger: logger)
            return Harness(port: port, client: client, provisioner: PortProvisioner(client: client, logger: logger))
        }

        func stop() async {
            await client.shutdown()
            await port.stop()
        }
    }

    static func object(_ text: String?) -> [String: Any] {
        (text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]) ?? [:]
    }

    @Test("a fresh organisation: every blueprint bare, then with relations, then whole; then the other resources")
    func fresh() async throws {
        let harness = try await Harness.start()
        let outcome = try await harness.provisioner.provision(PortResources(
            blueprints: Self.blueprints,
            scorecards: #"[{"blueprint": "service", "data": [{"identifier": "ready", "title": "Ready", "rules": []}]}]"#,
            pages: #"[{"identifier": "services-page", "title": "Services"}]"#))
        #expect(outcome.created == ["team", "service"])
        #expect(outcome.existing.isEmpty && outcome.problems.isEmpty)
        let stored = await harness.port.blueprints
        let service = Self.object(stored["service"])
        #expect((service["relations"] as? [String: Any])?["owner"] != nil)
        #expect(service["mirrorProperties"] != nil)
        #expect((Self.object(stored["team"])["relations"] as? [String: Any])?["lead"] != nil)
        #expect(await harness.port.created("scorecards").count == 1)
        #expect(await harness.port.created("pages").count == 1)
        let counts = await harness.port.requestCounts
        #expect(counts["POST /v1/blueprints"] == 2)
        #expect(counts["PATCH /v1/blueprints/{bp}"] == 4)   // relations, then whole, for each
        await harness.stop()
    }

    @Test("any blueprint existing already: nothing is created, nothing overwritten")
    func existing() async throws {
        let harness = try await Harness.start()
        await harness.port.seed(blueprints: ["service"])
        let outcome = try await harness.provisioner.provision(PortResources(blueprints: Self.blueprints, pages: #"[{"identifier": "p"}]"#))
        #expect(outcome.created.isEmpty)
        #expect(outcome.existing == ["service"])
        #expect(await harness.port.blueprints.keys.sorted() == ["service"])
        #expect(Self.object(await harness.port.blueprints["service"])["mirrorProperties"] == nil)
        #expect(await harness.port.created("pages").isEmpty)
        await harness.stop()
    }

    @Test("a stage that fails deletes what this attempt created and says why")
    func stageFails() async throws {
        let harness = try await Harness.start()
        await harness.port.inject(.init(pathPrefix: "/v1/blueprints/service", status: 422, method: "PATCH"))
        await #expect {
            try await harness.provisioner.provision(PortResources(blueprints: Self.blueprints))
        } throws: { error in
            let text = "\(error)"
            return text.contains("Port refused adding the relations of the blueprint service (422)")
                && text.contains("the blueprints created by this attempt were deleted (service, team)")
        }
        #expect(await harness.port.blueprints.isEmpty)
        // The next attempt starts from a clean organisation and succeeds.
        #expect(try await harness.provisioner.provision(PortResources(blueprints: Self.blueprints)).created == ["team", "service"])
        await harness.stop()
    }

    @Test("scorecards, pages and actions Port refuses are reported, not fatal")
    func optionalResources() async throws {
        let harness = try await Harness.start()
        let outcome = try await harness.provisioner.provision(PortResources(
            blueprints: Self.blueprints, scorecards: #"[{"blueprint": "nope", "data": [{"identifier": "s"}]}]"#,
            actions: "not json"))
        #expect(outcome.created == ["team", "service"])
        #expect(outcome.problems.count == 2)
        #expect(outcome.problems.contains { $0.contains("scorecards.json: Port refused s (404)") })
        #expect(outcome.problems.contains { $0.contains("actions.json is not a JSON array") })
        await harness.stop()
    }

    @Test("the Port-like API refuses as Port does: a missing blueprint per entity, a relation to a missing blueprint, a blueprint twice")
    func refusals() async throws {
        let harness = try await Harness.start()
        let client = harness.client
        let upsert = try await client.call("POST", "/v1/blueprints/service/entities/bulk", query: [("upsert", "true")],
                                          body: Array(#"{"entities":[{"identifier":"a","blueprint":"service"},{"identifier":"b","blueprint":"service"}]}"#.utf8))
        let errors = (Self.object(String(decoding: upsert.body, as: UTF8.self))["errors"] as? [[String: Any]]) ?? []
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0["statusCode"] as? Int == 404 && ($0["message"] as? String)?.contains(#"Blueprint with identifier "service" was not found"#) == true })
        let single = try await client.call("POST", "/v1/blueprints/service/entities", query: [("upsert", "true")], body: Array(#"{"identifier":"a"}"#.utf8))
        #expect(single.status == 404)
        let dangling = try await client.call("POST", "/v1/blueprints", body: Array(#"{"identifier":"x","relations":{"r":{"target":"missing"}}}"#.utf8))
        #expect(dangling.status == 404)
        let first = try await client.call("POST", "/v1/blueprints", body: Array(#"{"identifier":"x"}"#.utf8))
        let second = try await client.call("POST", "/v1/blueprints", body: Array(#"{"identifier":"x"}"#.utf8))
        #expect(first.status == 200 && second.status == 409)
        await harness.stop()
    }

    @Test("clean deletes the blueprints with their entities; one already gone is not a failure")
    func clean() async throws {
        let harness = try await Harness.start()
        _ = try await harness.provisioner.provision(PortResources(blueprints: Self.blueprints))
        await harness.port.seed(blueprint: "service", identifiers: ["s1", "s2"], datasource: "someone")
        let deleted = try await harness.provisioner.clean(PortResources(blueprints: Self.blueprints))
        #expect(deleted == ["service", "team"])
        #expect(await harness.port.blueprints.isEmpty)
        #expect(await harness.port.entities(blueprint: "service").isEmpty)
        #expect(try await harness.provisioner.clean(PortResources(blueprints: Self.blueprints)).isEmpty)
        await harness.stop()
    }
}

import FakePort
import Foundation
import OceanKit
import Testing
import TestSupport

/// The binary with Port credentials set: entities go to the Port-like API, not the catalog.
@Suite("ocean with Port as the destination")
struct PortCommandTests {
    @Test("ocean resync loads entities into Port, reports the resync state, and deletes what went stale")
    func resyncIntoPort() async throws {
        let port = FakePort(clientSecret: "s3cr3t-never-printed")
        try await port.start()
        var environment = ResyncCommandTests.environment([
            "OCEAN__PORT__CLIENT_ID": port.clientID, "OCEAN__PORT__CLIENT_SECRET": port.clientSecret,
            "OCEAN__PORT__BASE_URL": port.baseURL, "OCEAN__INTEGRATION__IDENTIFIER": "fake-in-port",
        ])
        let first = try await OceanProcess.run(["resync"], environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(await port.entities(blueprint: "fake-person").count == 50)
        #expect(await port.datasource(blueprint: "fake-person", identifier: "hr-1") == "port-ocean/fake/\(SwiftOcean.frameworkVersion)/fake-in-port/exporter")
        #expect(await port.integration?.contains(#""installationId":"fake-in-port""#) == true)
        #expect(await port.resyncStates.last?.contains(#""status":"completed""#) == true)

        environment["OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT"] = "8"
        let second = try await OceanProcess.run(["resync"], environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(await port.entities(blueprint: "fake-person").count == 40)
        #expect(!first.stderr.contains("s3cr3t") && !second.stderr.contains("s3cr3t"))
        await port.stop()
    }

    @Test("only one of the two credentials is a clear error")
    func halfConfigured() async throws {
        let run = try await OceanProcess.run(["resync"], environment: ResyncCommandTests.environment(["OCEAN__PORT__CLIENT_ID": "x"]))
        #expect(run.status == 2)
        #expect(run.stderr.contains("OCEAN__PORT__CLIENT_SECRET is required when OCEAN__PORT__CLIENT_ID is set"))
    }

    @Test("unreachable Port stops the start with where it tried")
    func unreachable() async throws {
        let run = try await OceanProcess.run(["resync"], environment: ResyncCommandTests.environment([
            "OCEAN__PORT__CLIENT_ID": "x", "OCEAN__PORT__CLIENT_SECRET": "secret-value-123", "OCEAN__PORT__BASE_URL": "http://127.0.0.1:1",
            "OCEAN__PORT__TIMEOUT_SECONDS": "1",
        ]))
        #expect(run.status == 2)
        #expect(run.stderr.contains("cannot reach Port at http://127.0.0.1:1"))
        #expect(!run.stderr.contains("secret-value-123"))
    }
}

import Foundation
import OceanIntegrations
import OceanKit
import Testing
import TestSupport

/// Signed deliveries to the fake integration's `/integration/webhook`, over HTTP.
@Suite("Webhooks over HTTP")
struct WebhookHTTPTests {
    static let secret = "webhook-secret-for-tests"

    static func person(_ id: String, name: String = "Webhook Person", action: String = "upsert") -> [UInt8] {
        Array(#"{"action":"\#(action)","person":{"id":"\#(id)","name":"\#(name)","email":"w@x","age":33,"status":"WORKING","bio":"b","department":{"id":"hr","name":"Human Resources"}}}"#.utf8)
    }

    static func signed(_ body: [UInt8], secret: String = WebhookHTTPTests.secret) -> [(String, String)] {
        [("X-Hub-Signature-256", WebhookSignature.header(body: body, secret: secret)), ("Content-Type", "application/json")]
    }

    func entity(_ service: TestService, _ id: String) async throws -> [String: Any]? {
        let entities = try await fetch(port: service.port, "GET", "/entities?blueprint=fake-person&limit=1000").json?["entities"] as? [[String: Any]]
        return entities?.first { $0["identifier"] as? String == id }
    }

    @Test("a signed upsert and delete change the catalog within moments")
    func signedDeliveries() async throws {
        let service = try await TestService.start(environment: ["OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET": Self.secret])
        let body = Self.person("hr-9000", name: "Fresh")
        let accepted = try await fetch(port: service.port, "POST", "/integration/webhook", headers: Self.signed(body), body: body)
        #expect(accepted.status == 202, "\(accepted.text)")
        #expect((accepted.json?["id"] as? String)?.hasPrefix("dlv_") == true)
        try await waitFor("the upsert") { try await entity(service, "hr-9000")?["title"] as? String == "Fresh" }
        let delete = Self.person("hr-9000", action: "delete")
        #expect(try await fetch(port: service.port, "POST", "/integration/webhook", headers: Self.signed(delete), body: delete).status == 202)
        try await waitFor("the delete") { try await entity(service, "hr-9000") == nil }
        let done = try await fetch(port: service.port, "GET", "/webhooks/deliveries?status=done")
        #expect((done.json?["deliveries"] as? [[String: Any]])?.count == 2)
        await service.stop()
    }

    @Test("bad, missing or unverifiable signatures get 401 and are not stored", arguments: [
        ("wrong secret", true), ("no header", false),
    ])
    func badSignatures(case name: String, withHeader: Bool) async throws {
        let service = try await TestService.start(environment: ["OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET": Self.secret])
        let body = Self.person("hr-1")
        let headers = withHeader ? Self.signed(body, secret: "not-the-secret") : []
        let refused = try await fetch(port: service.port, "POST", "/integration/webhook", headers: headers, body: body)
        #expect(refused.status == 401)
        #expect(refused.errorCode == "unauthorized")
        let tampered = try await fetch(port: service.port, "POST", "/integration/webhook", headers: Self.signed(body),
                                       body: Self.person("hr-1", name: "Tampered"))
        #expect(tampered.status == 401)
        let stored = try await fetch(port: service.port, "GET", "/webhooks/deliveries")
        #expect((stored.json?["deliveries"] as? [Any])?.isEmpty == true)
        await service.stop()
    }

    @Test("without a secret every delivery is refused (fail closed), unless insecure is explicit")
    func failClosed() async throws {
        let closed = try await TestService.start()
        let body = Self.person("hr-2")
        #expect(try await fetch(port: closed.port, "POST", "/integration/webhook", body: body).status == 401)
        await closed.stop()
        let open = try await TestService.start(environment: ["OCEAN__INTEGRATION__CONFIG__WEBHOOK_INSECURE": "true"])
        #expect(try await fetch(port: open.port, "POST", "/integration/webhook", body: body).status == 202)
        await open.stop()
    }

    @Test("bad JSON 400, a payload the processor does not expect 400, unknown path 404, too large 413")
    func badDeliveries() async throws {
        let service = try await TestService.start(environment: [
            "OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET": Self.secret, "OCEAN__WEBHOOK__MAX_BODY_SIZE": "4096",
        ])
        let notJSON = Array("{oops".utf8)
        let badJSON = try await fetch(port: service.port, "POST", "/integration/webhook", headers: Self.signed(notJSON), body: notJSON)
        #expect(badJSON.status == 400)
        let noAction = Array(#"{"person":{"id":"x"}}"#.utf8)
        #expect(try await fetch(port: service.port, "POST", "/integration/webhook", headers: Self.signed(noAction), body: noAction).status == 400)
        let body = Self.person("hr-3")
        let unknown = try await fetch(port: service.port, "POST", "/integration/elsewhere", headers: Self.signed(body), body: body)
        #expect(unknown.status == 404)
        let big = Array(#"{"action":"upsert","person":{"id":"x","bio":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 5000) + Array(#""}}"#.utf8)
        let tooLarge = try await fetch(port: service.port, "POST", "/integration/webhook", headers: Self.signed(big), body: big)
        #expect(tooLarge.status == 413)
        #expect(try await fetch(port: service.port, "GET", "/health/live").status == 200)
        await service.stop()
    }

    @Test("the deliveries API: filters, bad input, replay, token")
    func deliveriesAPI() async throws {
        let service = try await TestService.start(environment: [
            "OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET": Self.secret, "OCEAN__HTTP__API_TOKEN": "api-token-0123456789",
        ])
        let auth = [("Authorization", "Bearer api-token-0123456789")]
        let body = Self.person("hr-4")
        let id = try #require(try await fetch(port: service.port, "POST", "/integration/webhook", headers: Self.signed(body), body: body).json?["id"] as? String)
        #expect(try await fetch(port: service.port, "GET", "/webhooks/deliveries").status == 401)
        #expect(try await fetch(port: service.port, "GET", "/webhooks/deliveries?status=weird", headers: auth).status == 400)
        #expect(try await fetch(port: service.port, "GET", "/webhooks/deliveries?limit=0", headers: auth).status == 400)
        #expect(try await fetch(port: service.port, "POST", "/webhooks/deliveries/dlv_nope/replay", headers: auth).status == 404)
        try await waitFor("applied") {
            let list = try await fetch(port: service.port, "GET", "/webhooks/deliveries?status=done", headers: auth)
            return (list.json?["deliveries"] as? [[String: Any]])?.first?["id"] as? String == id
        }
        let replayed = try await fetch(port: service.port, "POST", "/webhooks/deliveries/\(id)/replay", headers: auth)
        #expect(replayed.status == 202)
        #expect(replayed.json?["status"] as? String == "pending")
        await service.stop()
    }

    @Test("WEBHOOKS_ONLY: no resyncs at all, webhooks still applied")
    func webhooksOnly() async throws {
        let service = try await TestService.start(environment: [
            "OCEAN__EVENT_LISTENER__TYPE": "WEBHOOKS_ONLY", "OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET": Self.secret,
        ])
        let refused = try await fetch(port: service.port, "POST", "/resync")
        #expect(refused.status == 409)
        #expect(refused.text.contains("WEBHOOKS_ONLY"))
        let body = Self.person("hr-5")
        #expect(try await fetch(port: service.port, "POST", "/integration/webhook", headers: Self.signed(body), body: body).status == 202)
        try await waitFor("the upsert") { try await entity(service, "hr-5") != nil }
        let jobs = try await fetch(port: service.port, "GET", "/jobs")
        #expect((jobs.json?["jobs"] as? [Any])?.isEmpty == true)
        await service.stop()
    }

    func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw TestHTTPError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

import FakePort
import Foundation
import OceanIntegrations
import OceanKit
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Known secrets in every place a user or a dependency could put them; then every byte the service
/// printed or answered is searched for them.
@Suite("secrets never leave the service")
struct SecretsTests {
    static let apiToken = "api-token-0123456789-never-shown"
    static let webhookSecret = "webhook-secret-never-shown"
    static let portSecret = "port-client-secret-never-shown"

    @Test("a served resync, jobs, metrics, webhooks and careless requests, with debug logs: no secret in any output")
    func servedResync() async throws {
        let folder = try OceanProcess.temporaryDirectory()
        let service = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "0"], environment: [
            "OCEAN__HTTP__API_TOKEN": Self.apiToken,
            "OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET": Self.webhookSecret,
            "OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "10",
            "APPLICATION__LOG_LEVEL": "debug",
            "OCEAN__CATALOG__PATH": folder + "/catalog.sqlite",
        ], directory: folder)
        let port = try await service.port()
        let authorized = [("Authorization", "Bearer \(Self.apiToken)")]
        var answers: [TestHTTPResponse] = []

        let resync = try await fetch(port: port, "POST", "/resync", headers: authorized)
        #expect(resync.status == 202)
        answers.append(resync)
        let jobID = try #require(resync.header("Location")?.split(separator: "/").last.map(String.init))
        var job = try await fetch(port: port, "GET", "/jobs/\(jobID)", headers: authorized)
        while job.text.contains(#""status":"queued""#) || job.text.contains(#""status":"running""#) {
            try await Task.sleep(for: .milliseconds(50))
            job = try await fetch(port: port, "GET", "/jobs/\(jobID)", headers: authorized)
        }
        #expect(job.text.contains(#""status":"succeeded""#))
        answers.append(job)

        let body = Array(#"{"action":"upsert","person":{"id":"hr-1","name":"Ada","department":{"id":"hr","name":"HR"}}}"#.utf8)
        let signature = WebhookSignature.header(body: body, secret: Self.webhookSecret)
        answers.append(try await fetch(port: port, "POST", "/integration/webhook", headers: [("X-Hub-Signature-256", signature)], body: body))
        #expect(answers.last?.status == 202)
        // Careless and hostile clients: the secret as a wrong signature, in the query, as a wrong token.
        answers.append(try await fetch(port: port, "POST", "/integration/webhook", headers: [("X-Hub-Signature-256", Self.webhookSecret)], body: body))
        #expect(answers.last?.status == 401)
        answers.append(try await fetch(port: port, "GET", "/jobs?token=\(Self.apiToken)&limit=2", headers: authorized))
        answers.append(try await fetch(port: port, "GET", "/jobs", headers: [("Authorization", "Bearer \(Self.webhookSecret)")]))
        #expect(answers.last?.status == 401)
        answers.append(try await fetch(port: port, "GET", "/webhooks/deliveries", headers: authorized))
        answers.append(try await fetch(port: port, "GET", "/metrics"))
        #expect(answers.last?.text.contains("ocean_records_total") == true)

        kill(service.process.processIdentifier, SIGTERM)
        #expect(try await service.exitStatus(within: .seconds(15)) == 0)
        // The debug log really carried the requests (so the search below searched something).
        #expect(service.output.contains("request answered"))
        for secret in [Self.apiToken, Self.webhookSecret] {
            #expect(!service.output.contains(secret), "the log shows a secret")
            for answer in answers {
                #expect(!answer.text.contains(secret) && !answer.headers.contains { $0.value.contains(secret) }, "an answer shows a secret")
            }
        }
    }

    @Test("a failing Port auth whose error echoes the credentials: exit non-zero, the secret masked everywhere")
    func failingPortAuth() async throws {
        let port = FakePort(clientSecret: "the-right-secret", echoesRejectedCredentials: true)
        try await port.start()
        let environment = [
            "OCEAN__PORT__CLIENT_ID": port.clientID, "OCEAN__PORT__CLIENT_SECRET": Self.portSecret,
            "OCEAN__PORT__BASE_URL": port.baseURL, "OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET": Self.webhookSecret,
            "OCEAN__HTTP__API_TOKEN": Self.apiToken, "APPLICATION__LOG_LEVEL": "trace",
        ]
        let run = try await OceanProcess.run(["resync"], environment: environment)
        await port.stop()
        #expect(run.status != 0)
        let output = run.stdout + run.stderr
        // The dependency did echo it: the service masked it.
        #expect(output.contains("[REDACTED]"), "output: \(output)")
        for secret in [Self.portSecret, Self.webhookSecret, Self.apiToken] {
            #expect(!output.contains(secret), "output: \(output)")
        }
    }

    @Test("a secret echoed JSON-escaped (with \\/) or percent-encoded is masked in that spelling too")
    func escapedSpellings() async throws {
        let secret = #"sec/ret"value-2026"#
        let port = FakePort(clientSecret: "the-right-secret", echoesRejectedCredentials: true)
        try await port.start()
        let run = try await OceanProcess.run(["resync"], environment: [
            "OCEAN__PORT__CLIENT_ID": port.clientID, "OCEAN__PORT__CLIENT_SECRET": secret,
            "OCEAN__PORT__BASE_URL": port.baseURL, "APPLICATION__LOG_LEVEL": "trace",
        ])
        await port.stop()
        #expect(run.status != 0)
        let output = run.stdout + run.stderr
        #expect(output.contains("[REDACTED]"), "output: \(output)")
        for spelling in [secret, #"sec\/ret\"value-2026"#, #"sec/ret\"value-2026"#, "sec%2Fret%22value-2026"] {
            #expect(!output.contains(spelling), "\(spelling) in: \(output)")
        }
    }

    @Test("a Port that echoes Authorization: the live access token is masked in the log, the job and the catalog file")
    func accessTokenMasked() async throws {
        let port = FakePort(echoesAuthorization: true)
        try await port.start()
        let directory = try OceanProcess.temporaryDirectory()
        let run = try await OceanProcess.run(["resync"], environment: [
            "OCEAN__PORT__CLIENT_ID": port.clientID, "OCEAN__PORT__CLIENT_SECRET": port.clientSecret,
            "OCEAN__PORT__BASE_URL": port.baseURL, "APPLICATION__LOG_LEVEL": "trace",
            "OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "2",
        ], directory: directory)
        let tokens = await port.issuedTokens
        await port.stop()
        try #require(!tokens.isEmpty)
        let output = run.stdout + run.stderr
        // The proxy did echo it: the entity errors say so, masked.
        #expect(output.contains("[REDACTED]"), "output: \(output)")
        var stored = Data()
        for file in ["catalog.sqlite", "catalog.sqlite-wal"] {
            stored.append((try? Data(contentsOf: URL(fileURLWithPath: directory + "/.ocean/" + file))) ?? Data())
        }
        #expect(!stored.isEmpty)
        for token in tokens {
            #expect(!output.contains(token), "the log shows the access token")
            #expect(stored.range(of: Data(token.utf8)) == nil, "the catalog file holds the access token")
        }
    }

    @Test("a sensitive setting of the wrong type is reported without its value")
    func sensitiveValueNotEchoed() async throws {
        let run = try await OceanProcess.run(["validate"], environment: [
            "OCEAN__INTEGRATION__TYPE": "jsonl", "OCEAN__INTEGRATION__CONFIG__PATH": "/tmp",
            "OCEAN__PORT__CLIENT_ID": "id", "OCEAN__PORT__CLIENT_SECRET": Self.portSecret, "OCEAN__PORT__BASE_URL": "ftp:\(Self.portSecret)",
        ])
        #expect(run.status == 1)
        #expect(run.stderr.contains("OCEAN__PORT__BASE_URL"))
        #expect(!(run.stdout + run.stderr).contains(Self.portSecret), "\(run.stderr)")
    }
}

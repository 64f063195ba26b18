import Essentials
import Foundation
import Logging
import OceanKit
import OceanServer
import Testing
import TestSupport

/// Start hooks (and Port's start steps) that fail: retried, shown, not fatal unless asked.
@Suite("Start steps that fail")
struct StartStepTests {
    struct HookFailure: Error, CustomStringConvertible {
        let description: String
    }

    static let mapping = """
        resources:
          - kind: thing
            selector: {query: 'true'}
            port: {entity: {mappings: {identifier: .id, blueprint: '"thing"'}}}
        """

    /// An integration whose start hook throws its first `failures` times.
    static func integration(failures: Int, calls: Locked<Int>) -> OceanIntegration {
        let ocean = OceanIntegration(type: "hooked", defaultMapping: mapping)
        ocean.onStart { _ in
            let attempt = calls.withLock { count -> Int in
                count += 1
                return count
            }
            if attempt <= failures { throw HookFailure(description: "no permission to register webhooks (attempt \(attempt))") }
        }
        ocean.onResync(kind: "thing") { _ in SinglePage(records: [.object(["id": .string("a")])]) }
        return ocean
    }

    static func settings(_ ocean: OceanIntegration, port: Int, _ extra: [String: String] = [:]) throws -> ServiceSettings {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-start-\(UUID().uuidString)")
        var values = ["OCEAN__CATALOG__PATH": folder.appendingPathComponent("catalog.sqlite").path, "APPLICATION__HOST": "127.0.0.1",
                      "APPLICATION__PORT": "\(port)", "OCEAN__RESYNC_ON_START": "false"]
        values.merge(extra) { $1 }
        return try ServiceSettings.load(from: Environment(values: values), integrations: .single(ocean))
    }

    static var quiet: Logger {
        var logger = Logger(label: "test.start")
        logger.logLevel = .critical
        return logger
    }

    /// Polls `GET path` until `accept` holds (or 20 s pass) and returns the last answer.
    static func poll(_ port: Int, _ path: String, until accept: (TestHTTPResponse) -> Bool) async throws -> TestHTTPResponse? {
        let deadline = ContinuousClock.now + .seconds(20)
        var last: TestHTTPResponse?
        while ContinuousClock.now < deadline {
            last = try? await fetch(port: port, "GET", path)
            if let last, accept(last) { return last }
            try await Task.sleep(for: .milliseconds(50))
        }
        return last
    }

    @Test("a start hook that fails is retried with backoff and shown on /health/ready, while resyncs run")
    func retried() async throws {
        let calls = Locked(0)
        let ocean = Self.integration(failures: 2, calls: calls)
        let port = try TestPort.free()
        let application = try OceanApplication(settings: try Self.settings(ocean, port: port), integration: ocean, logger: Self.quiet)
        let running = Task { try await application.run() }
        let failing = try await Self.poll(port, "/health/ready") { $0.status == 200 }
        #expect(failing?.text.contains(#""failedStartSteps":{"start hook":"no permission to register webhooks (attempt 1)"}"#) == true, "\(failing?.text ?? "")")
        let accepted = try await fetch(port: port, "POST", "/resync")
        #expect(accepted.status == 202)
        let id = try #require(accepted.json?["id"] as? String)
        let job = try await Self.poll(port, "/jobs/\(id)") { $0.json?["status"] as? String == "succeeded" }
        #expect(job?.json?["status"] as? String == "succeeded")
        // Retried after 1 s and 2 s: the third attempt succeeds and the failure is gone.
        let recovered = try await Self.poll(port, "/health/ready") { $0.text == #"{"status":"ready"}"# }
        #expect(recovered?.text == #"{"status":"ready"}"#)
        #expect(calls.current == 3)
        running.cancel()
        _ = await running.result
    }

    @Test("OCEAN__FAIL_ON_START_ERROR=true: a failing start hook stops the start, saying which and why")
    func failFast() async throws {
        let calls = Locked(0)
        let ocean = Self.integration(failures: 1, calls: calls)
        let settings = try Self.settings(ocean, port: try TestPort.free(), ["OCEAN__FAIL_ON_START_ERROR": "true"])
        let application = try OceanApplication(settings: settings, integration: ocean, logger: Self.quiet)
        await #expect {
            try await application.prepare()
        } throws: { error in
            "\(error)".contains("start hook failed: no permission to register webhooks (attempt 1) (OCEAN__FAIL_ON_START_ERROR is set)")
        }
        #expect(calls.current == 1)
    }
}

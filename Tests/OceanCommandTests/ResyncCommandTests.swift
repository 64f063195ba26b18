import Foundation
import Testing
import TestSupport

/// `ocean resync` and `OCEAN__EVENT_LISTENER__TYPE=ONCE`, run as a user runs them.
@Suite("ocean resync (the executable)")
struct ResyncCommandTests {
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-resync-\(UUID().uuidString)")
        return ["OCEAN__CATALOG__PATH": folder.appendingPathComponent("catalog.sqlite").path,
                "OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "10"].merging(extra) { $1 }
    }

    @Test("runs one job, prints a line per kind when stderr is not a terminal, exits 0")
    func succeeds() async throws {
        let run = try await OceanProcess.run(["resync"], environment: Self.environment())
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("fake-person"))
        #expect(run.stderr.contains("upserted 50"))
        #expect(run.stderr.contains("succeeded in"))
        #expect(!run.stderr.contains("\u{1B}["), "no terminal escapes when stderr is a pipe")
    }

    @Test("--kind runs one kind; an unknown kind exits non-zero with the known kinds")
    func oneKind() async throws {
        let run = try await OceanProcess.run(["resync", "--kind", "fake-department"], environment: Self.environment())
        #expect(run.status == 0)
        #expect(run.stderr.contains("upserted 5"))
        #expect(!run.stderr.contains("fake-person"))
        let unknown = try await OceanProcess.run(["resync", "--kind", "nope"], environment: Self.environment())
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("known kinds: fake-department, fake-person"))
    }

    @Test("a failing kind makes the job partial (exit 3) and says why; when every kind fails it failed (exit 1)")
    func fails() async throws {
        // A whole number (the spec's type) that the integration itself refuses when the kind runs.
        let run = try await OceanProcess.run(["resync"], environment: Self.environment(["OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "-5"]))
        #expect(run.status == 3, "\(run.stderr)")
        #expect(run.stderr.contains(" partial in "))
        let only = try await OceanProcess.run(["resync", "--kind", "fake-person"],
                                              environment: Self.environment(["OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "-5"]))
        #expect(only.status == 1, "\(only.stderr)")
        #expect(only.stderr.contains(" failed in "))
        #expect(run.stderr.contains("OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT: must be from 0 to"))
    }

    @Test("a value of the wrong type for the spec stops the start before any job, naming the variable")
    func specType() async throws {
        let run = try await OceanProcess.run(["resync"], environment: Self.environment(["OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "many"]))
        #expect(run.status == 2)
        #expect(run.stderr.contains(#"OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT must be a whole number, got "many""#))
        #expect(!run.stderr.contains("job queued"))
    }

    @Test("--mapping replaces the default mapping; a broken one stops the start with its problems")
    func mapping() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-map-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let good = folder.appendingPathComponent("good.yml")
        try """
            resources:
              - kind: fake-person
                selector: {query: '.status == "WORKING"'}
                port: {entity: {mappings: {identifier: .id, blueprint: '"person"'}}}
            """.write(to: good, atomically: true, encoding: .utf8)
        let run = try await OceanProcess.run(["resync", "--mapping", good.path], environment: Self.environment())
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("filtered 10"))
        #expect(run.stderr.contains("upserted 40"))

        let bad = folder.appendingPathComponent("bad.yml")
        try "resources:\n  - kind: x\n    selector: {query: 'true'}\n    port: {entity: {mappings: {identifier: .id |, blueprint: '\"b\"'}}}\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        let broken = try await OceanProcess.run(["resync", "--mapping", bad.path], environment: Self.environment())
        #expect(broken.status == 2)
        #expect(broken.stderr.contains("resources[0] (kind x) identifier:"))
    }

    @Test("OCEAN__EVENT_LISTENER__TYPE=ONCE makes serve run one resync and exit")
    func once() async throws {
        let run = try await OceanProcess.run(["serve", "--port", "0", "--host", "127.0.0.1"],
                                       environment: Self.environment(["OCEAN__EVENT_LISTENER__TYPE": "ONCE"]))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("succeeded in"))
    }

    @Test("bad settings are all listed at once with the variable names")
    func badSettings() async throws {
        let run = try await OceanProcess.run(["resync"], environment: Self.environment([
            "OCEAN__INTEGRATION__TYPE": "jira", "OCEAN__SCHEDULED_RESYNC_INTERVAL": "soon", "OCEAN__EVENT_LISTENER__TYPE": "KAFKA",
        ]))
        #expect(run.status == 2)
        #expect(run.stderr.contains("OCEAN__SCHEDULED_RESYNC_INTERVAL must be a whole number"))
        #expect(run.stderr.contains("OCEAN__EVENT_LISTENER__TYPE must be one of POLLING, WEBHOOK, ONCE"))
        let type = try await OceanProcess.run(["resync"], environment: Self.environment(["OCEAN__INTEGRATION__TYPE": "jira"]))
        #expect(type.status == 2)
        #expect(type.stderr.contains("OCEAN__INTEGRATION__TYPE must be one of fake, jsonl"))
    }
}

import Foundation
import Testing
import TestSupport

/// `ocean validate` checks settings, spec and mapping together; `ocean serve` refuses to start on the
/// same problems. Both run in a folder of their own, as a user runs them next to a config.yaml.
@Suite("ocean validate and start-up checks (the executable)")
struct ValidateCommandTests {
    static func folder(_ files: [String: String]) throws -> String {
        let path = try OceanProcess.temporaryDirectory()
        for (name, text) in files { try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
        return path
    }

    @Test("configuration, spec and mapping problems are listed together; exit 1")
    func everyProblem() async throws {
        let folder = try Self.folder([
            "config.yaml": """
                integration:
                  type: fake
                  config:
                    entityAmount: plenty
                    webhookSecret: "{{ from env HOOK_SECRET }}"
                """,
            "mapping.yml": """
                resources:
                  - kind: fake-person
                    selector: {query: 'true'}
                    port: {entity: {mappings: {identifier: .id |, blueprint: '"p"'}}}
                """,
        ])
        let run = try await OceanProcess.run(["validate", "--mapping", "mapping.yml"], environment: [
            "OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_BATCH_SIZE": "0.5", "HOOK_SECRET": "hook-value",
        ], directory: folder)
        #expect(run.status == 1)
        #expect(run.stderr.contains(#"OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT (config.yaml: integration.config.entityAmount) must be a whole number, got "plenty""#), "\(run.stderr)")
        #expect(run.stderr.contains(#"OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_BATCH_SIZE must be a whole number, got "0.5""#))
        #expect(run.stderr.contains("mapping.yml: resources[0] (kind fake-person) identifier:"))
        #expect(run.stderr.contains("3 problems"))
        #expect(!run.stdout.contains("valid"))
    }

    @Test("a valid setup: the configuration and the integration's default mapping are reported valid; exit 0")
    func valid() async throws {
        let data = try OceanProcess.temporaryDirectory()
        let folder = try Self.folder([
            "config.yaml": "integration:\n  type: jsonl\n  identifier: imports\n  config:\n    path: \(data)\n",
            ".env": "OCEAN__INTEGRATION__CONFIG__BATCH_SIZE=50\n",
        ])
        let run = try await OceanProcess.run(["validate"], directory: folder)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(#"configuration: valid (integration jsonl "imports", destination the catalog .ocean/catalog.sqlite)"#))
        #expect(run.stdout.contains("the jsonl integration's default mapping: valid"))
        // A typo in an integration setting is a warning, not an error.
        let typo = try await OceanProcess.run(["validate"], environment: ["OCEAN__INTEGRATION__CONFIG__BATCHSIZE": "5"], directory: folder)
        #expect(typo.status == 0)
        #expect(typo.stderr.contains("warning: OCEAN__INTEGRATION__CONFIG__BATCHSIZE is not a setting of the jsonl integration"))
    }

    @Test("serve refuses to start without a required integration setting, naming the variable; nothing listens")
    func startRefused() async throws {
        let run = try await OceanProcess.run(["serve", "--host", "127.0.0.1", "--port", "0"], environment: [
            "OCEAN__INTEGRATION__TYPE": "jsonl", "OCEAN__HTTP__API_TOKEN": "short",
        ])
        #expect(run.status == 2)
        #expect(run.stderr.contains("OCEAN__INTEGRATION__CONFIG__PATH is required by the integration's spec (string: The folder holding"))
        #expect(run.stderr.contains("OCEAN__HTTP__API_TOKEN must be at least 16 characters"))
        #expect(!run.stderr.contains("listening"))
    }

    @Test("--config names the file; a missing one is an error")
    func configFlag() async throws {
        let folder = try Self.folder(["settings.yaml": "integration:\n  identifier: named-file\n"])
        let run = try await OceanProcess.run(["validate", "--config", folder + "/settings.yaml"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(#"integration fake "named-file""#))
        let missing = try await OceanProcess.run(["validate", "--config", folder + "/nope.yaml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("--config cannot read"))
    }
}

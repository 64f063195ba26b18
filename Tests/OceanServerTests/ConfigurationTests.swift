import Foundation
import OceanKit
import OceanEngine
import OceanServer
import Testing

/// Settings in layers, as Ocean's users write them: flags > environment > `.env` > `config.yaml`,
/// and the integration's settings checked against its spec.
@Suite("configuration: layers and the integration spec")
struct ConfigurationTests {
    /// A folder with the given files; returns its path.
    static func folder(_ files: [String: String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
        return path
    }

    static func load(
        _ files: [String: String], environment: [String: String] = [:], flags: [String: SettingsSources.Flag] = [:]
    ) async throws -> ServiceSettings {
        let folder = try folder(files)
        let sources = try await SettingsSources.load(
            flags: flags, environment: Environment(values: environment),
            configFile: files["config.yaml"] == nil ? nil : folder + "/config.yaml", dotEnvPath: folder + "/.env")
        return try ServiceSettings.load(from: sources, integrations: .builtIn)
    }

    static let configYAML = """
        # Ocean's layout: camelCase keys, {{ from env NAME }} for what lives in the environment.
        port:
          clientId: "{{ from env PORT_CLIENT_ID }}"
          clientSecret: "{{ from env PORT_CLIENT_SECRET }}"
          baseUrl: http://127.0.0.1:9
        eventListener:
          type: ONCE
        scheduledResyncInterval: 90
        application:
          port: 8123
          log_level: debug
        integration:
          identifier: from-yaml
          type: fake
          config:
            entityAmount: 7
            thirdPartyBatchSize: 100
            webhookSecret: "{{ from env HOOK_SECRET }}"
        """

    @Test("config.yaml is read with Ocean's keys and {{ from env NAME }}")
    func configFile() async throws {
        let settings = try await Self.load(["config.yaml": Self.configYAML], environment: [
            "PORT_CLIENT_ID": "id-1", "PORT_CLIENT_SECRET": "secret-1", "HOOK_SECRET": "hook-1",
        ])
        #expect(settings.port?.clientID == "id-1")
        #expect(settings.port?.clientSecret == "secret-1")
        #expect(settings.port?.baseURL == "http://127.0.0.1:9")
        #expect(settings.eventListener == .once)
        #expect(settings.scheduledResyncInterval == .seconds(90 * 60))
        #expect(settings.http.port == 8123)
        #expect(settings.logLevel == .debug)
        #expect(settings.integrationIdentifier == "from-yaml")
        #expect(settings.integrationConfig["entityAmount"] == "7")
        #expect(settings.integrationConfig["third_party_batch_size"] == "100")
        // The spec's defaults fill what nobody set.
        #expect(settings.integrationConfig["entity_kb_size"] == "1")
        // Sensitive spec values are secrets; so is the Port client secret.
        #expect(Set(settings.secrets) == ["secret-1", "hook-1"])
        #expect(!"\(settings)".contains("secret-1") && !"\(settings)".contains("hook-1"))
    }

    @Test("flags win over the environment, which wins over .env, which wins over config.yaml")
    func precedence() async throws {
        let files = [
            "config.yaml": "application:\n  port: 1001\n  host: 10.0.0.1\nintegration:\n  config:\n    entityAmount: 1\n    entityKbSize: 3\n    thirdPartyBatchSize: 9\n",
            ".env": "APPLICATION__PORT=1002\nAPPLICATION__HOST=10.0.0.2\nOCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT=2\nOCEAN__INTEGRATION__CONFIG__ENTITY_KB_SIZE=4\n",
        ]
        let environment = ["APPLICATION__PORT": "1003", "OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "5"]
        let settings = try await Self.load(files, environment: environment, flags: ["APPLICATION__PORT": .init("--port", "1004")])
        #expect(settings.http.port == 1004)                             // flag
        #expect(settings.integrationConfig["entity_amount"] == "5")     // environment over .env and config.yaml
        #expect(settings.http.host == "10.0.0.2")                       // .env over config.yaml
        #expect(settings.integrationConfig["entity_kb_size"] == "4")    // .env over config.yaml
        #expect(settings.integrationConfig["third_party_batch_size"] == "9") // config.yaml alone
        let withoutFlag = try await Self.load(files, environment: environment)
        #expect(withoutFlag.http.port == 1003)
        // An empty variable is unset: it does not hide the file's value.
        let empty = try await Self.load(files, environment: ["APPLICATION__PORT": ""])
        #expect(empty.http.port == 1002)
    }

    @Test("every problem is listed at once, each with the variable to set and where the bad value came from")
    func allProblems() async throws {
        let yaml = """
            application:
              port: eighty
            integration:
              config:
                thirdPartyBatchSize: lots
            """
        do {
            _ = try await Self.load(["config.yaml": yaml], environment: [
                "OCEAN__INTEGRATION__CONFIG__ENTITY_KB_SIZE": "big", "APPLICATION__LOG_LEVEL": "loud",
            ], flags: ["OCEAN__HTTP__EVENT_LOOPS": .init("--event-loops", "0")])
            Issue.record("bad settings were accepted")
        } catch let error as SettingErrors {
            let text = error.description
            #expect(error.errors.count == 5, "\(text)")
            #expect(text.contains(#"APPLICATION__PORT ("#) && text.contains(#"config.yaml: application.port) must be a whole number, got "eighty""#))
            #expect(text.contains("--event-loops (OCEAN__HTTP__EVENT_LOOPS) must be from 1 to 64, got 0"))
            #expect(text.contains("APPLICATION__LOG_LEVEL must be one of"))
            #expect(text.contains(#"OCEAN__INTEGRATION__CONFIG__ENTITY_KB_SIZE must be a whole number, got "big""#))
            #expect(text.contains(#"config.yaml: integration.config.thirdPartyBatchSize) must be a whole number, got "lots""#))
        }
    }

    @Test("the spec: required settings, types, unknown names, sensitive values never quoted")
    func spec() throws {
        let spec = try IntegrationSpec.parse("""
            type: jira
            configurations:
              - name: jiraHost
                type: url
                required: true
                description: Your Jira's address.
              - name: atlassianUserToken
                type: integer
                required: true
                sensitive: true
              - name: verbose
                type: boolean
                default: false
              - name: projects
                type: array
              - name: labels
                type: object
                default: {team: a}
            """)
        let bad = spec.resolve([
            "JIRA_HOST": .init("not a url"), "ATLASSIAN_USER_TOKEN": .init("tok-secret-value"), "VERBOSE": .init("perhaps"),
            "PROJECTS": .init(#"{"a":1}"#), "JIRA_HOTS": .init("typo"),
        ])
        let messages = bad.problems.map(\.description)
        #expect(messages.count == 4, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("OCEAN__INTEGRATION__CONFIG__JIRA_HOST: must be a URL") })
        #expect(messages.contains { $0.hasPrefix("OCEAN__INTEGRATION__CONFIG__ATLASSIAN_USER_TOKEN: must be a whole number, got a value (hidden") })
        #expect(messages.contains { $0.contains("VERBOSE: must be true or false") })
        #expect(messages.contains { $0.contains("PROJECTS: must be a JSON array") })
        #expect(!messages.joined().contains("tok-secret-value"))
        #expect(bad.unknown == ["JIRA_HOTS"])

        let missing = spec.resolve([:])
        #expect(missing.problems.map(\.path) == ["OCEAN__INTEGRATION__CONFIG__JIRA_HOST", "OCEAN__INTEGRATION__CONFIG__ATLASSIAN_USER_TOKEN"])
        #expect(missing.problems[0].message.contains("Your Jira's address."))

        let good = spec.resolve(["jiraHost": .init("https://example.atlassian.net"), "atlassianUserToken": .init("42"), "projects": .init(#"["A","B"]"#)])
        #expect(good.problems.isEmpty)
        #expect(good.config["verbose"] == "false")
        #expect(good.config["labels"] == #"{"team":"a"}"#)
        #expect(!good.config.description.contains("42"))
    }

    @Test("a malformed spec is reported entry by entry")
    func badSpec() {
        #expect(throws: ConfigurationErrors.self) { try IntegrationSpec.parse("configurations: 3") }
        do {
            _ = try IntegrationSpec.parse("""
                configurations:
                  - name: a
                    type: text
                  - type: string
                  - name: b
                    type: integer
                    default: x
                  - name: a
                    type: string
                """)
            Issue.record("a malformed spec was accepted")
        } catch {
            #expect(error.errors.map(\.path) == ["configurations[0].type", "configurations[1].name", "configurations[2].default", "configurations[3].name"])
        }
    }

    @Test("config.yaml problems: not YAML, lists where settings go, unknown {{ }} references, a missing file given by name")
    func badConfigFile() async throws {
        for (yaml, expected) in [
            ("port: [1, 2", "config.yaml"),
            ("application:\n  port: [1, 2]\n", "application.port: a list is not a setting here"),
            ("port:\n  clientId: '{{ from vault x }}'\n", "is not known; use {{ from env NAME }}"),
            ("- a\n- b\n", "must be a mapping of settings"),
        ] {
            await #expect { try await Self.load(["config.yaml": yaml]) } throws: { error in
                "\(error)".contains(expected)
            }
        }
        await #expect { _ = try await SettingsSources.load(configFile: "/nonexistent/config.yaml") } throws: { error in
            "\(error)".contains("--config cannot read /nonexistent/config.yaml")
        }
    }

    @Test("an integration setting the spec does not declare is a warning; an unknown integration type an error")
    func unknownNames() async throws {
        let typo = try await Self.load(["config.yaml": "prot:\n  clientId: x\nintegration:\n  identifer: y\n"])
        #expect(typo.warnings.contains { $0.hasSuffix("config.yaml: prot.clientId is not a setting swift-ocean reads") })
        #expect(typo.warnings.contains { $0.hasSuffix("config.yaml: integration.identifer is not a setting swift-ocean reads") })
        let settings = try await Self.load([:], environment: ["OCEAN__INTEGRATION__CONFIG__ENTITY_AMONT": "3", "OCEAN__INTEGRATION__CONFIG__EXTRA_API_TOKEN": "named-like-a-secret"])
        #expect(settings.secrets == ["named-like-a-secret"])
        #expect(!settings.integrationConfig.description.contains("named-like-a-secret"))
        #expect(settings.warnings.contains { $0.contains("OCEAN__INTEGRATION__CONFIG__ENTITY_AMONT is not a setting of the fake integration") })
        await #expect { try await Self.load([:], environment: ["OCEAN__INTEGRATION__TYPE": "jira"]) } throws: { error in
            "\(error)".contains(#"OCEAN__INTEGRATION__TYPE must be one of fake, jsonl, got "jira""#)
        }
        await #expect { try await Self.load([:], environment: ["OCEAN__INTEGRATION__TYPE": "jsonl"]) } throws: { error in
            "\(error)".contains("OCEAN__INTEGRATION__CONFIG__PATH is required by the integration's spec")
        }
    }
}

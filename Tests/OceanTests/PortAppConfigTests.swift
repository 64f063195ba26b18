import OceanKit
import OceanEngine
import Testing

@Suite("Port app config")
struct PortAppConfigTests {
    @Test("a full config reads with Ocean's defaults and keeps selector fields")
    func reads() throws {
        let (config, warnings) = try PortAppConfig.parse("""
            resources:
              - kind: project
                selector:
                  query: 'true'
                  expand: insight
                port:
                  entity:
                    mappings:
                      identifier: .key
                      title: .name
                      blueprint: '"jiraProject"'
                      properties:
                        url: .self
            """)
        #expect(warnings.isEmpty)
        #expect(config.enableMergeEntity && config.deleteDependentEntities && config.createMissingRelatedEntities)
        #expect(config.entityDeletionThreshold == 0.9)
        let resource = try #require(config.resources.first)
        #expect(resource.kind == "project")
        #expect(resource.query == "true")
        #expect(resource.selector["expand"] == .string("insight"))
        #expect(resource.itemsToParse == nil)
        #expect(resource.itemsToParseName == "item")
        #expect(resource.itemsToParseTopLevelTransform)
        #expect(resource.mappings.keys == ["identifier", "title", "blueprint", "properties"])
    }

    @Test("JSON reads too, and top-level settings are honoured")
    func json() throws {
        let (config, _) = try PortAppConfig.parse("""
            {"enableMergeEntity": false, "entityDeletionThreshold": 0.5, "deleteDependentEntities": false,
             "resources": [{"kind": "k", "selector": {"query": "true"},
               "port": {"itemsToParse": ".items", "itemsToParseName": "it", "itemsToParseTopLevelTransform": false,
                        "entity": {"mappings": {"identifier": ".it.id", "blueprint": "\\"b\\""}}}}]}
            """)
        #expect(!config.enableMergeEntity)
        #expect(!config.deleteDependentEntities)
        #expect(config.entityDeletionThreshold == 0.5)
        #expect(config.resources[0].itemsToParse == ".items")
        #expect(config.resources[0].itemsToParseName == "it")
        #expect(!config.resources[0].itemsToParseTopLevelTransform)
    }

    @Test("unknown keys are kept and warned about, not fatal")
    func unknownKeys() throws {
        let (config, warnings) = try PortAppConfig.parse("""
            repositoryType: all
            resources:
              - kind: k
                futureOption: 1
                selector: {query: 'true'}
                port:
                  entity:
                    mappings: {identifier: .id, blueprint: '"b"', sparkle: .x}
            """)
        #expect(config.unknownKeys["repositoryType"] == .string("all"))
        #expect(config.resources[0].unknownKeys["futureOption"] == .number(1))
        #expect(Set(warnings.map(\.path)) == ["repositoryType", "resources[0].futureOption", "resources[0].port.entity.mappings.sparkle"])
    }

    @Test("bad configs fail with every problem and its path", arguments: [
        ("resources: [", "", "not valid YAML"),
        ("", "", "empty"),
        ("- 1\n- 2", "", "must be an object"),
        ("enableMergeEntity: true", "resources", "is required"),
        ("resources: {kind: x}", "resources", "must be a list"),
        ("resources: [5]", "resources[0]", "must be an object"),
        ("resources: [{kind: k, port: {entity: {mappings: {identifier: .id, blueprint: '\"b\"'}}}}]", "resources[0].selector", "is required"),
        ("resources: [{kind: k, selector: {query: true}, port: {entity: {mappings: {identifier: .id, blueprint: '\"b\"'}}}}]", "resources[0].selector.query", "non-empty string"),
        ("resources: [{kind: '', selector: {query: 'true'}, port: {entity: {mappings: {identifier: .id, blueprint: '\"b\"'}}}}]", "resources[0].kind", "non-empty string"),
        ("resources: [{kind: k, selector: {query: 'true'}, port: {entity: {mappings: {blueprint: '\"b\"'}}}}]", "resources[0].port.entity.mappings.identifier", "is required"),
        ("resources: [{kind: k, selector: {query: 'true'}, port: {entity: {mappings: {identifier: .id, blueprint: '\"b\"', title: 42}}}}]", "resources[0].port.entity.mappings.title", "must be a jq expression"),
        ("resources: [{kind: k, selector: {query: 'true'}, port: {entity: {mappings: {identifier: .id, blueprint: '\"b\"', properties: [.a]}}}}]", "resources[0].port.entity.mappings.properties", "must be an object"),
        ("resources: [{kind: k, selector: {query: 'true'}, port: {entity: {mappings: {identifier: .id, blueprint: '\"b\"', properties: {a: ' '}}}}}]", "resources[0].port.entity.mappings.properties.a", "empty expression"),
        ("resources: [{kind: k, selector: {query: 'true'}, port: {itemsToParse: 3, entity: {mappings: {identifier: .id, blueprint: '\"b\"'}}}}]", "resources[0].port.itemsToParse", "must be a jq expression"),
        ("entityDeletionThreshold: 2\nresources: []", "entityDeletionThreshold", "from 0 to 1"),
        ("enableMergeEntity: yes-please\nresources: []", "enableMergeEntity", "true or false"),
    ])
    func bad(text: String, path: String, mentions: String) {
        do {
            _ = try PortAppConfig.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            let match = error.errors.first { $0.path == path && $0.message.contains(mentions) }
            #expect(match != nil, "got \(error.errors)")
        }
    }

    @Test("several problems are all reported at once")
    func allProblems() {
        do {
            _ = try PortAppConfig.parse("""
                resources:
                  - kind: a
                    selector: {query: 'true'}
                    port: {entity: {mappings: {title: 1}}}
                  - selector: {}
                    port: {}
                """)
            Issue.record("accepted")
        } catch {
            #expect(error.errors.count >= 4, "\(error.errors)")
        }
    }
}

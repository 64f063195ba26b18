import Foundation
import JQ
import OceanKit
import OceanEngine
import Testing

/// Maps NDJSON records with a mapping, the way `ocean map` does, and returns what came out.
func mapRecords(
    _ mapping: String, _ records: [String], kind: String? = nil, strategy: EntityMapper.Strategy = .combined
) throws -> (entities: [[String: Any]], result: MappingResult) {
    let (config, _) = try PortAppConfig.parse(mapping)
    let (plan, issues) = MappingPlan.build(config)
    #expect(issues.isEmpty, "\(issues)")
    let mapper = EntityMapper(plan: plan, strategy: strategy)
    let resources = plan.resourceIndexes(ofKind: kind ?? config.kinds[0])
    var result = MappingResult()
    for (index, record) in records.enumerated() {
        Array(record.utf8).withUnsafeBytes { bytes in
            mapper.map(recordBytes: bytes, recordIndex: index, resources: resources, into: &result)
        }
    }
    let entities = try result.entities.map { try #require(JSONSerialization.jsonObject(with: Data($0.json)) as? [String: Any]) }
    return (entities, result)
}

func mapping(selector: String = "'true'", fields: String, port: String = "") -> String {
    """
    resources:
      - kind: thing
        selector:
          query: \(selector)
        port:
    \(port.isEmpty ? "" : "      " + port + "\n")      entity:
            mappings:
    \(fields.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n"))
    """
}

@Suite("Entity mapping, as Ocean maps")
struct EntityMapperTests {
    static let basic = mapping(fields: """
        identifier: .id
        title: .name
        blueprint: '"thing"'
        properties:
          size: .size + 1
          tags: .tags | join(",")
        relations:
          owner: .owner.id
        """)

    @Test("fields map in Port's entity shape, properties and relations always present")
    func shape() throws {
        let (entities, result) = try mapRecords(Self.basic, [#"{"id":"a","name":"A","size":2,"tags":["x","y"],"owner":{"id":"o"}}"#])
        #expect(result.entities.count == 1)
        let entity = try #require(entities.first)
        #expect(entity["identifier"] as? String == "a")
        #expect(entity["title"] as? String == "A")
        #expect(entity["blueprint"] as? String == "thing")
        #expect((entity["properties"] as? [String: Any])?["size"] as? Int == 3)
        #expect((entity["properties"] as? [String: Any])?["tags"] as? String == "x,y")
        #expect((entity["relations"] as? [String: Any])?["owner"] as? String == "o")
        #expect(result.entities[0].blueprint == "thing")
        #expect(result.entities[0].identifier == "a")

        let bare = try mapRecords(mapping(fields: "identifier: .id\nblueprint: '\"b\"'"), [#"{"id":"x"}"#]).entities[0]
        #expect(bare.keys.sorted() == ["blueprint", "identifier", "properties", "relations"])
    }

    @Test("the selector filters; a non-boolean is an error for that record, with its index")
    func selector() throws {
        let map = mapping(selector: ".keep", fields: "identifier: .id\nblueprint: '\"b\"'")
        let (entities, result) = try mapRecords(map, [
            #"{"id":"1","keep":true}"#, #"{"id":"2","keep":false}"#, #"{"id":"3","keep":"yes"}"#, #"{"id":"4"}"#,
        ])
        #expect(entities.map { $0["identifier"] as? String } == ["1"])
        #expect(result.filteredOut == 1)
        #expect(result.failed == 2)
        #expect(result.problems.map(\.recordIndex) == [2, 3])
        #expect(result.problems.allSatisfy { $0.kind == .selector && $0.field == "selector.query" })
        #expect(result.problems[0].message.contains("boolean"))
    }

    @Test("a failing field maps to null and is reported; the entity stays")
    func misconfiguredField() throws {
        let (entities, result) = try mapRecords(Self.basic, [#"{"id":"a","name":"A","size":"big","tags":null}"#])
        #expect(entities.count == 1)
        let properties = try #require(entities[0]["properties"] as? [String: Any])
        #expect(properties["size"] is NSNull)
        #expect(properties["tags"] is NSNull)
        #expect(result.misconfiguredFields == 2)
        #expect(Set(result.problems.compactMap(\.field)) == ["properties.size", "properties.tags"])
        #expect(result.problems.allSatisfy { $0.kind == .misconfiguredField && $0.recordIndex == 0 })
    }

    @Test("a field with no output maps to null and is reported")
    func emptyField() throws {
        let map = mapping(fields: "identifier: .id\nblueprint: '\"b\"'\ntitle: empty")
        let (entities, result) = try mapRecords(map, [#"{"id":"a"}"#])
        #expect(entities[0]["title"] is NSNull)
        #expect(result.problems.first?.field == "title")
        #expect(result.problems.first?.message.contains("no value") == true)
    }

    @Test("each field is the first output of its expression")
    func firstOutput() throws {
        let map = mapping(fields: "identifier: .ids[]\nblueprint: '\"b\"'\ntitle: .names[]")
        let (entities, result) = try mapRecords(map, [#"{"ids":["1","2"],"names":["x","y"]}"#])
        #expect(result.entities.count == 1)
        #expect(entities[0]["identifier"] as? String == "1")
        #expect(entities[0]["title"] as? String == "x")
    }

    @Test("entities without identifier or blueprint are dropped and counted", arguments: [
        (#"{"bp":"b"}"#, "identifier"), (#"{"id":"","bp":"b"}"#, "identifier"), (#"{"id":7,"bp":"b"}"#, "identifier"),
        (#"{"id":"a"}"#, "blueprint"), (#"{"id":"a","bp":""}"#, "blueprint"),
    ])
    func dropped(record: String, field: String) throws {
        let map = mapping(fields: "identifier: .id\nblueprint: .bp")
        let (entities, result) = try mapRecords(map, [record])
        #expect(entities.isEmpty)
        #expect(result.failed == 1)
        #expect(result.problems.first?.kind == .droppedEntity)
        #expect(result.problems.first?.field == field)
    }

    @Test("search objects are evaluated leaf by leaf and kept as objects")
    func searchObjects() throws {
        let map = mapping(fields: """
            identifier: .id
            blueprint: '"b"'
            relations:
              team:
                combinator: '"and"'
                rules:
                  - property: '"handle"'
                    operator: '"="'
                    value: .team
            """)
        let (entities, _) = try mapRecords(map, [#"{"id":"a","team":"core"}"#])
        let team = try #require((entities[0]["relations"] as? [String: Any])?["team"] as? [String: Any])
        #expect(team["combinator"] as? String == "and")
        let rule = try #require((team["rules"] as? [[String: Any]])?.first)
        #expect(rule["property"] as? String == "handle")
        #expect(rule["value"] as? String == "core")
    }

    @Test("itemsToParse: one entity per element, the array removed from the parent")
    func itemsToParse() throws {
        let map = mapping(fields: """
            identifier: .item.id
            title: .name + "/" + .item.name
            blueprint: '"member"'
            properties:
              parentHasArray: has("members")
              parentKeepsOther: .other
            """, port: "itemsToParse: .members")
        let (entities, result) = try mapRecords(map, [
            #"{"name":"team","other":1,"members":[{"id":"a","name":"A"},{"id":"b","name":"B"}]}"#,
            #"{"name":"none","members":[]}"#,
            #"{"name":"bad","members":"x"}"#,
        ])
        #expect(entities.map { $0["identifier"] as? String } == ["a", "b"])
        #expect(entities.map { $0["title"] as? String } == ["team/A", "team/B"])
        #expect(entities.allSatisfy { ($0["properties"] as? [String: Any])?["parentHasArray"] as? Bool == false })
        #expect(entities.allSatisfy { ($0["properties"] as? [String: Any])?["parentKeepsOther"] as? Int == 1 })
        #expect(result.problems.count == 1)
        #expect(result.problems[0].recordIndex == 2)
        #expect(result.problems[0].kind == .itemsToParse)
        #expect(result.problems[0].message.contains("array"))
    }

    @Test("itemsToParse keeps the array when the transform is off or the expression is not a plain path")
    func itemsToParseKeepsArray() throws {
        for port in ["itemsToParse: .members\n      itemsToParseTopLevelTransform: false", "itemsToParse: .members | map(.)"] {
            let map = mapping(fields: "identifier: .item.id\nblueprint: '\"m\"'\nproperties:\n  n: .members | length", port: port)
            let (entities, _) = try mapRecords(map, [#"{"members":[{"id":"a"},{"id":"b"}]}"#])
            #expect(entities.map { ($0["properties"] as? [String: Any])?["n"] as? Int } == [2, 2], "\(port)")
        }
    }

    @Test("itemsToParseName names the element; a problem in one item names that item")
    func itemsToParseName() throws {
        let map = mapping(fields: "identifier: .member.id\nblueprint: '\"m\"'\ntitle: .member.name | ascii_upcase",
                          port: "itemsToParse: .members\n      itemsToParseName: member")
        let (entities, result) = try mapRecords(map, [#"{"members":[{"id":"a","name":"x"},{"id":"b"}]}"#])
        #expect(entities.map { $0["title"] as? String } == ["X", nil])
        #expect(result.problems.count == 1)
        #expect(result.problems[0].itemIndex == 1)
        #expect(result.problems[0].field == "title")
    }

    @Test("records that are not JSON objects are refused, each with its index", arguments: [
        ("[1]", "must be a JSON object"), ("\"text\"", "must be a JSON object"), ("{\"a\":", "not valid JSON"),
        ("\u{FFFD}", "not valid JSON"),
    ])
    func badRecords(record: String, mentions: String) throws {
        let (entities, result) = try mapRecords(Self.basic, [#"{"id":"ok"}"#, record])
        #expect(entities.count == 1)
        #expect(result.problems.last?.recordIndex == 1)
        #expect(result.problems.last?.kind == .invalidRecord)
        #expect(result.problems.last?.message.contains(mentions) == true, "\(result.problems)")
    }

    @Test("non-UTF-8 bytes in a record are refused, not replaced")
    func nonUTF8() throws {
        let (config, _) = try PortAppConfig.parse(Self.basic)
        let mapper = EntityMapper(plan: MappingPlan.build(config).plan)
        var result = MappingResult()
        let bytes: [UInt8] = Array(#"{"id":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        bytes.withUnsafeBytes { mapper.map(recordBytes: $0, recordIndex: 5, resources: [0], into: &result) }
        #expect(result.entities.isEmpty)
        #expect(result.problems.first?.message.contains("UTF-8") == true)
        #expect(result.problems.first?.recordIndex == 5)
    }

    @Test("the per-field strategy (Ocean's way) gives the same entities and problems")
    func strategiesAgree() throws {
        let records = [
            #"{"id":"a","name":"A","size":2,"tags":["x"],"owner":{"id":"o"}}"#,
            #"{"id":"b","name":"B","size":"s","tags":null,"owner":null}"#,
            #"{"name":"C"}"#,
        ]
        let combined = try mapRecords(Self.basic, records)
        let perField = try mapRecords(Self.basic, records, strategy: .perField)
        #expect(combined.result.entities == perField.result.entities)
        #expect(combined.result.problems == perField.result.problems)
        #expect(combined.result.failed == perField.result.failed)
    }

    @Test("a resource whose expression does not compile is an issue naming its field")
    func compileIssues() throws {
        let (config, _) = try PortAppConfig.parse(mapping(fields: "identifier: .id\nblueprint: '\"b\"'\ntitle: .a |\nproperties:\n  x: nosuch(1)"))
        let (_, issues) = MappingPlan.build(config)
        #expect(issues.map(\.field) == ["title", "properties.x"])
        #expect(issues.allSatisfy { $0.resourceIndex == 0 && $0.kind == "thing" && $0.code == .compile })
        #expect(issues[1].message.contains("nosuch/1 is not defined"))
    }
}

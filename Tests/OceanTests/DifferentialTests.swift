import Foundation
import JQ
import OceanKit
import OceanEngine
import Testing
import TestSupport

/// Our jq (libjq 1.6 + Ocean's dialect) against jq 1.8 (Python's `jq` package, which Ocean uses),
/// on generated records. `make test` installs the package.
@Suite("Differential: our jq against jq 1.8")
struct DifferentialTests {
    static let expressions = [
        // paths and alternatives
        ".id", ".owner.name", ".owner.missing.deeper", ".tags[0]", ".tags[-1]", ".scores[1:]", #".["odd key"]"#,
        ".name // \"unnamed\"", ".owner.email // .owner.name // \"nobody\"", ".missing // empty // 5",
        // select, map, collections
        "[.tags[]? | select(startswith(\"t\"))]", "[.scores[]? | select(. > 50)] | length", ".scores | map(. * 2)",
        ".tags | map(ascii_upcase) | sort", "[.scores[]?] | add", ".owner | keys", ".owner | to_entries | map(.key)",
        "[.tags[]?] | unique | length", ".scores | max", "[paths] | length", ".owner | has(\"email\")",
        // strings
        "\"\\(.id)-\\(.name)\"", "\"n=\\(.scores[0] // 0)\"", ".name | split(\" \")", ".tags | join(\",\")",
        ".name | ascii_downcase", ".name | test(\"^[A-Z]\")", ".name | gsub(\"[aeiou]\"; \"_\")",
        ".name | sub(\"(?<first>\\\\w+)\"; \"<\\(.first)>\")", ".url | ltrimstr(\"https://\")", ".url | split(\"/\") | .[2]",
        ".name | length", ".title | trim", ".name | ascii_downcase | gsub(\"[^a-z0-9]+\"; \"-\")",
        // numbers and conversions
        ".scores[0] | tostring", ".count | tostring", ".id | tostring", ".ratio | floor", ".count / 4", ".count % 7",
        ".created | todate", ".created | todate | fromdate", ".stamp | fromdate", "(.scores | length) > 2",
        ".flag | not", ".count | tostring | tonumber",
        // objects and pick
        "pick(.owner.name)", "pick(.id, .tags)", "{id, name: .owner.name}", ".owner | del(.email)",
        "if .flag then \"yes\" else \"no\" end", "if .count > 10 then \"big\" elif .count > 3 then \"mid\" else \"small\" end",
        "[.tags[]? | {t: .}]", ".owner | with_entries(.value |= tostring)", "try error(\"boom\") catch .",
        "[limit(2; .tags[]?)]", "first(.tags[]?)", ".tags | index(\"t1\")", "any(.scores[]?; . > 90)",
        "all(.scores[]?; . >= 0)", "[.scores[]? | select(. != null)] | min", ".name | @base64", ".name | @html",
        ".nested.list | length", ".nested.list[0].value // null", "[.nested.list[]?.value] | map(select(. != null))",
        // errors must be errors on both sides
        ".name.first", ".tags + 1", ".count | ltrimstr(\"x\")", ".missing | trim",
    ]

    /// Deterministic records with varied shapes: missing fields, nulls, unicode, nesting.
    static func records(count: Int) -> [[String: Any]] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        let names = ["Ann Lee", "bob", "Ünïcode Ωmega", "  padded  ", "x", "Zoë-Ann O'Neil", "日本 語"]
        return (0..<count).map { n in
            var record: [String: Any] = ["id": n % 5 == 0 ? n : "id-\(n)"]
            if next(6) != 0 { record["name"] = names[next(names.count)] }
            if next(5) != 0 {
                var owner: [String: Any] = ["name": names[next(names.count)]]
                if next(2) == 0 { owner["email"] = "o\(n)@example.com" }
                if next(4) == 0 { owner["age"] = next(90) }
                record["owner"] = owner
            }
            if next(4) != 0 { record["tags"] = (0..<next(4)).map { _ in "t\(next(3))" } }
            if next(4) != 0 { record["scores"] = (0..<next(5)).map { _ in next(100) } }
            record["count"] = next(20)
            record["ratio"] = Double(next(1000)) / 7
            record["flag"] = next(3) == 0 ? NSNull() : next(2) == 0
            record["created"] = 1_500_000_000 + next(200_000_000)
            record["stamp"] = "20\(10 + next(15))-0\(1 + next(9))-1\(next(10))T0\(next(10)):1\(next(10)):2\(next(10))Z"
            record["url"] = "https://git.example.com/org/repo-\(n)"
            record["title"] = next(2) == 0 ? " spaced title " : "plain"
            record["odd key"] = next(2) == 0 ? "v" : NSNull()
            if next(2) == 0 {
                record["nested"] = ["list": (0..<next(3)).map { i in next(3) == 0 ? ["other": i] : ["value": "v\(i)"] }]
            }
            return record
        }
    }

    struct Reference: Decodable {
        let expressions: [[Outcome]]
        let entities: [[String: JSONAny]]
    }

    struct Outcome: Decodable {
        let value: JSONAny?
        let none: Bool?
        let error: String?
    }

    /// Any JSON value, decoded for comparison.
    struct JSONAny: Decodable, Equatable, CustomStringConvertible {
        let text: String
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { text = "null" } else if let value = try? container.decode(Bool.self) { text = "\(value)" }
            else if let value = try? container.decode(Double.self) { text = JSONAny.number(value) }
            else if let value = try? container.decode(String.self) { text = String(reflecting: value) }
            else if let value = try? container.decode([JSONAny].self) { text = "[" + value.map(\.text).joined(separator: ",") + "]" }
            else {
                let value = try container.decode([String: JSONAny].self)
                text = "{" + value.keys.sorted().map { "\(String(reflecting: $0)):\(value[$0]!.text)" }.joined(separator: ",") + "}"
            }
        }
        init(jsonText: String) throws {
            self = try JSONDecoder().decode(JSONAny.self, from: Data(jsonText.utf8))
        }
        static func number(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.12g", value)
        }
        var description: String { text }
    }

    static func reference(_ request: [String: Any]) throws -> Reference {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("jq18-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: request).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", root.appendingPathComponent("Support/jq18_reference.py").path, input.path]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = PipeReading.readAll(output.fileHandleForReading)
        process.waitUntilExit()
        let message = String(decoding: PipeReading.readAll(errors.fileHandleForReading), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw DifferentialError(description: "jq 1.8 reference failed (make test installs Python's jq): \(message)")
        }
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    struct DifferentialError: Error, CustomStringConvertible { let description: String }

    @Test("expressions give jq 1.8's first output, or fail where it fails")
    func expressions() async throws {
        // On a thread of its own: the Python reference and a few thousand evaluations would tie up
        // a thread of the cooperative pool for seconds, which the other suites' servers need.
        let mismatches = try await onThread { try Self.expressionMismatches() }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.prefix(15).joined(separator: "\n"))")
    }

    static func expressionMismatches() throws -> [String] {
        // Serialized once, so both sides see the same key order.
        let records = try Self.records(count: 60).map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self)
        }
        let reference = try Self.reference(["expressions": Self.expressions, "records": records])
        var mismatches: [String] = []
        for (expressionIndex, expression) in Self.expressions.enumerated() {
            let program = try JQProgram(expression)
            for (recordIndex, recordText) in records.enumerated() {
                let expected = reference.expressions[expressionIndex][recordIndex]
                let ours: String
                do {
                    if let value = try program.first(try JQValue.parse(recordText)) {
                        ours = try JSONAny(jsonText: value.jsonText()).text
                    } else {
                        ours = "(no output)"
                    }
                } catch {
                    ours = "(error)"
                }
                let theirs = expected.error != nil ? "(error)" : expected.none == true ? "(no output)" : expected.value?.text ?? "null"
                if ours != theirs {
                    mismatches.append("\(expression) on \(recordText): ours \(ours), jq 1.8 \(theirs)")
                }
            }
        }
        return mismatches
    }

    @Test("itemsToParse expands records as Ocean does")
    func itemsToParse() throws {
        let records: [String] = (0..<20).map { n in
            let members = (0..<(n % 4)).map { #"{"id":"m\#(n)-\#($0)","name":"Member \#($0)"}"# }.joined(separator: ",")
            return #"{"team":"team-\#(n)","members":[\#(members)],"size":\#(n)}"#
        }
        let fields = ["identifier": ".member.id", "blueprint": "\"member\"", "title": "\"\\(.team): \\(.member.name)\"",
                      "hasArray": "has(\"members\")", "size": ".size"]
        let reference = try Self.reference(["expressions": [String](), "records": records, "mapping": [
            "itemsToParse": ".members", "itemsToParseName": "member", "fields": fields,
        ]])
        let mapping = """
            resources:
              - kind: team
                selector: {query: 'true'}
                port:
                  itemsToParse: .members
                  itemsToParseName: member
                  entity:
                    mappings:
                      identifier: .member.id
                      blueprint: '"member"'
                      title: '"\\(.team): \\(.member.name)"'
                      properties:
                        hasArray: has("members")
                        size: .size
            """
        let (entities, result) = try mapRecords(mapping, records)
        #expect(result.problems.isEmpty)
        #expect(entities.count == reference.entities.count)
        for (ours, theirs) in zip(entities, reference.entities) {
            let properties = ours["properties"] as? [String: Any] ?? [:]
            let flattened: [String: Any] = ["identifier": ours["identifier"]!, "blueprint": ours["blueprint"]!, "title": ours["title"]!,
                                            "hasArray": properties["hasArray"]!, "size": properties["size"]!]
            for (key, value) in theirs {
                let text = String(decoding: try JSONSerialization.data(withJSONObject: [flattened[key]!], options: .fragmentsAllowed), as: UTF8.self)
                #expect(try JSONAny(jsonText: text).text == "[\(value.text)]", "\(key)")
            }
        }
    }
}

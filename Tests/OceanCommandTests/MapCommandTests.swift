import Foundation
import Testing
import TestSupport

/// `ocean map` and `ocean validate`, run as a user runs them.
@Suite("ocean map and ocean validate (the executable)")
struct MapCommandTests {
    static let mapping = """
        resources:
          - kind: person
            selector:
              query: .status != "blocked"
            port:
              entity:
                mappings:
                  identifier: .id
                  title: .name
                  blueprint: '"person"'
                  properties:
                    age: .age + 1
          - kind: team
            selector:
              query: 'true'
            port:
              itemsToParse: .members
              entity:
                mappings:
                  identifier: .item
                  blueprint: '"member"'
        """

    static func file(_ text: String, suffix: String = ".yml") throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-\(UUID().uuidString)\(suffix)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test("NDJSON on stdin: entities on stdout, problems on stderr with the record index, exit 0")
    func ndjson() async throws {
        let mappingPath = try Self.file(Self.mapping)
        let input = """
            {"id":"a","name":"Ann","age":30,"status":"ok"}
            {"id":"b","name":"Bob","status":"blocked"}
            {"id":"c","name":"Cy","age":"x","status":"ok"}
            not json
            """
        let run = try await OceanProcess.run(["map", "--mapping", mappingPath, "--kind", "person", "--stats"], input: Array(input.utf8))
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0] == #"{"identifier":"a","title":"Ann","blueprint":"person","properties":{"age":31},"relations":{}}"#)
        #expect(lines[1].contains(#""identifier":"c""#) && lines[1].contains(#""age":null"#))
        #expect(run.stderr.contains("record 2 (resources[0], kind person) properties.age:"))
        #expect(run.stderr.contains("record 3: not valid JSON"))
        #expect(run.stderr.contains("mapped 4 records into 2 entities (1 filtered out, 1 failed, 1 misconfigured fields)"))
    }

    @Test("a JSON array file in, itemsToParse expands it")
    func arrayFile() async throws {
        let mappingPath = try Self.file(Self.mapping)
        let inputPath = try Self.file(#"[{"members":["x","y"]}, {"members":["z"]}]"#, suffix: ".json")
        let run = try await OceanProcess.run(["map", "--mapping", mappingPath, "--kind", "team", "--workers", "2", inputPath])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n").map { $0.contains(#""blueprint":"member""#) } == [true, true, true])
        #expect(run.stdout.contains(#""identifier":"x""#) && run.stdout.contains(#""identifier":"z""#))
    }

    @Test("order is kept across workers on a large input")
    func ordered() async throws {
        let mappingPath = try Self.file(Self.mapping)
        let input = (0..<5000).map { #"{"id":"p\#($0)","name":"n","age":\#($0),"status":"ok"}"# }.joined(separator: "\n")
        let run = try await OceanProcess.run(["map", "--mapping", mappingPath, "--kind", "person", "--workers", "2"], input: Array(input.utf8))
        #expect(run.status == 0)
        let identifiers = run.stdout.split(separator: "\n").map { $0.split(separator: "\"")[3] }
        #expect(identifiers == (0..<5000).map { "p\($0)"[...] })
    }

    @Test("an invalid mapping or bad arguments exit non-zero with a clear message", arguments: [
        ("resources: [", ["--kind", "person"], "not valid YAML"),
        (mapping, [], "choose one with --kind"),
        (mapping, ["--kind", "nope"], "no resource of kind \"nope\""),
        (mapping, ["--kind", "person", "--workers", "0"], "--workers must be"),
        (mapping.replacingOccurrences(of: "title: .name", with: "title: .name |"), ["--kind", "person"], "resources[0] (kind person) title:"),
    ])
    func invalid(mappingText: String, arguments: [String], mentions: String) async throws {
        let mappingPath = try Self.file(mappingText)
        let run = try await OceanProcess.run(["map", "--mapping", mappingPath] + arguments, input: Array("{}\n".utf8))
        #expect(run.status != 0)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains(mentions), "\(run.stderr)")
    }

    @Test("a missing input file is an error")
    func missingInput() async throws {
        let run = try await OceanProcess.run(["map", "--mapping", try Self.file(Self.mapping), "--kind", "person", "/nonexistent/x.json"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("cannot open /nonexistent/x.json"))
    }

    @Test("validate: valid mapping exits 0; every problem listed with resource, kind and field")
    func validate() async throws {
        let good = try await OceanProcess.run(["validate", "--mapping", try Self.file(Self.mapping)])
        #expect(good.status == 0)
        #expect(good.stdout.contains("valid (2 resources"))

        let broken = Self.mapping
            .replacingOccurrences(of: "title: .name", with: "title: .name |")
            .replacingOccurrences(of: "identifier: .item", with: "identifier: nosuch(.item)")
        let bad = try await OceanProcess.run(["validate", "--mapping", try Self.file(broken)])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("resources[0] (kind person) title:"))
        #expect(bad.stderr.contains("resources[1] (kind team) identifier: nosuch/1 is not defined"))
        #expect(bad.stderr.contains("2 problems"))

        let missing = try await OceanProcess.run(["validate", "--mapping", "/nonexistent.yml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read the mapping"))
    }

    @Test("env in a mapping reads nothing unless OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS=true")
    func environmentAccess() async throws {
        let mapping = """
            resources:
              - kind: k
                selector: {query: 'true'}
                port: {entity: {mappings: {identifier: .id, blueprint: '"b"', title: 'env.OCEAN_TEST_SECRET // "hidden"'}}}
            """
        let path = try Self.file(mapping)
        let hidden = try await OceanProcess.run(["map", "--mapping", path], environment: ["OCEAN_TEST_SECRET": "s3cr3t"], input: Array(#"{"id":"a"}"#.utf8))
        #expect(hidden.stdout.contains(#""title":"hidden""#))
        #expect(!hidden.stdout.contains("s3cr3t"))
        let allowed = try await OceanProcess.run(["map", "--mapping", path], environment: [
            "OCEAN_TEST_SECRET": "s3cr3t", "OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS": "true",
        ], input: Array(#"{"id":"a"}"#.utf8))
        #expect(allowed.stdout.contains(#""title":"s3cr3t""#))
    }
}

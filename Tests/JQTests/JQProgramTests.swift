import JQ
import Testing

@Suite("JQProgram")
struct JQProgramTests {
    private func run(_ program: String, _ input: String = "null", options: JQDialect.Options = .init()) throws -> [String] {
        try JQProgram(program, options: options).outputs(try JQValue.parse(input))
    }

    @Test("compiles once and runs on many inputs")
    func reuse() throws {
        let program = try JQProgram(".name | ascii_upcase")
        for name in ["a", "b", "c"] {
            let upper = try program.first(try JQValue.parse(#"{"name":"\#(name)"}"#))?.stringValue
            #expect(upper == name.uppercased())
        }
        #expect(throws: JQError(.runtime, "explode input must be a string")) { _ = try program.first(try JQValue.parse("{}")) }
    }

    @Test("first stops at the first output; outputs gives all of them")
    func outputs() throws {
        let first = try JQProgram("1, 2, error(\"late\")").first(.null)?.numberValue
        #expect(first == 1)
        #expect(try run(".[]", "[1,\"a\",null]") == ["1", #""a""#, "null"])
        let none = try JQProgram("empty").first(.null) == nil
        #expect(none)
    }

    @Test("compile errors carry jq's message and the user's line numbers", arguments: [
        (".a.b |", "end of the expression"),
        ("{a: 1", "end of the expression"),
        ("foo(1)", "foo/1 is not defined"),
        (".a |\n.b |\nfoo", "line 3"),
        ("import \"x\" as x; .", "unexpected import"),
    ])
    func compileErrors(source: String, mentions: String) {
        do {
            _ = try JQProgram(source)
            Issue.record("\(source) compiled")
        } catch {
            #expect(error.code == .compile)
            #expect(error.message.contains(mentions), "\(error.message)")
            #expect(!error.message.contains("jq: error"))
            #expect(!error.message.contains("__ocean"), "the prelude must not show: \(error.message)")
        }
    }

    @Test("runtime errors carry jq's message")
    func runtimeErrors() throws {
        #expect(throws: JQError(.runtime, #"Cannot index number with string "b""#)) { try run(".a.b", #"{"a":1}"#) }
        #expect(throws: JQError(.runtime, #"{"code":7} (not a string)"#)) { try run(#"error({code: 7})"#) }
    }

    @Test("file:// references are refused as not jq")
    func notJQ() {
        #expect(throws: JQError.self) { try JQProgram("file://README.md") }
        do { _ = try JQProgram("  file://docs/x.md") } catch { #expect(error.code == .notJQ) }
    }

    @Test("the environment is hidden unless allowed")
    func environment() throws {
        #expect(try run("env | length") == ["0"])
        #expect(try run("$ENV | length") == ["0"])
        #expect(try run("env.PATH") == ["null"])
        let allowed = JQDialect.Options(allowEnvironmentAccess: true)
        #expect(try run("env.PATH | type", options: allowed) == [#""string""#])
        #expect(try run("$ENV.PATH | type", options: allowed) == [#""string""#])
    }

    @Test("jq 1.7/1.8 builtins and fixes on top of libjq 1.6", arguments: [
        (#"{"a":{"b":1,"c":2}}"#, "pick(.a.b)", [#"{"a":{"b":1}}"#]),
        ("[1,2,3]", "pick(.[1])", ["[null,2]"]),
        ("-1.5", "abs", ["1.5"]),
        (#""x""#, "abs", [#""x""#]),
        (#"" a ""#, "trim, ltrim, rtrim", [#""a""#, #""a ""#, #"" a""#]),
        ("3", "toarray", ["[3]"]),
        ("[3]", "toarray", ["[3]"]),
        ("null", "have_decnum", ["false"]),
        ("null", "[limit(0; 1, 2)]", ["[]"]),
        ("null", "[limit(1; 1, 2)]", ["[1]"]),
        ("null", #"isempty(1, error("x"))"#, ["false"]),
        ("null", "isempty(empty)", ["true"]),
        (#""true""#, "toboolean", ["true"]),
        (#""abc""#, #"ltrimstr("a"), rtrimstr("c"), trimstr("a")"#, [#""bc""#, #""ab""#, #""bc""#]),
        (#""abc""#, #"rtrimstr("")"#, [#""abc""#]),
        ("[1,2]", "add(.[])", ["3"]),
        (#""aXbXc""#, #"[gsub("X"; "1", "2")]"#, [#"["a1b1c","a2b2c"]"#]),
        (#""abc""#, #"gsub("(?<x>b)"; "[\(.x)]")"#, [#""a[b]c""#]),
        (#""aaa""#, #"sub(""; "-")"#, [#""-aaa""#]),
        (#""abc""#, #"sub("z"; "-")"#, [#""abc""#]),
        (#""aéb""#, #"index("b"), rindex("b"), indices("")"#, ["2", "2", "[]"]),
        (#""aaa""#, #"indices("aa")"#, ["[0,1]"]),
        (#""abcb""#, #"[scan("b")]"#, [#"["b","b"]"#]),
        ("null", "if . == null then 1 end", ["1"]),
        ("2", "if . == null then 1 end", ["2"]),
        ("null", "'single' + \"double\"", [#""singledouble""#]),
    ])
    func dialect(input: String, program: String, expected: [String]) throws {
        #expect(try run(program, input) == expected)
    }

    @Test("1.8 errors where 1.6 was lenient", arguments: [
        ("1", #"ltrimstr("a")"#, "startswith() requires string inputs"),
        (#""x""#, "toboolean", #"string ("x") cannot be parsed as a boolean"#),
        ("1", "trim", "trim input must be a string"),
        ("null", "[limit(-1; 1)]", "limit doesn't support negative count"),
    ])
    func stricter(input: String, program: String, message: String) {
        #expect(throws: JQError(.runtime, message)) { try run(program, input) }
    }
}

@Suite("JQValue")
struct JQValueTests {
    @Test("bad JSON is refused with a clear error", arguments: [
        (Array(#"{"a":1"#.utf8), "Unfinished"),
        (Array("not json".utf8), "Invalid"),
        ([UInt8](), "empty"),
        ([0x22, 0xFF, 0xFE, 0x22], "invalid UTF-8 at byte 1"),
        ([0x22, 0xC3, 0x22], "invalid UTF-8 at byte 1"),
        ([0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8 at byte 1"),
    ])
    func badJSON(bytes: [UInt8], mentions: String) {
        do {
            try bytes.withUnsafeBytes { _ = try JQValue.parse($0) }
            Issue.record("parsed \(bytes)")
        } catch let error as JQError {
            #expect(error.code == .invalidJSON)
            #expect(error.message.contains(mentions), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("valid UTF-8 of every length passes")
    func goodUTF8() throws {
        let value = try JQValue.parse(#"["a", "é", "€", "😀", "aé€😀 long enough to use the fast path"]"#)
        let count = value.count
        let emoji = value[3].stringValue
        #expect(count == 5)
        #expect(emoji == "😀")
    }

    @Test("building and reading values")
    func building() throws {
        var object = JQValue.emptyObject()
        object.set("name", .string("ocean"))
        object.set("n", .number(2))
        var list = JQValue.emptyArray()
        list.append(.bool(true))
        list.append(.null)
        object.set("list", list)
        let text = object.jsonText()
        let name = object["name"].stringValue
        let missing = object["missing"].kind
        let first = object["list"][0].isTrue
        let outOfRange = object["list"][9].kind
        #expect(text == #"{"name":"ocean","n":2,"list":[true,null]}"#)
        #expect(name == "ocean")
        #expect(missing == .null)
        #expect(first)
        #expect(outOfRange == .null)
        var keys: [String] = []
        object.forEachMember { key, _ in keys.append(key) }
        #expect(keys == ["name", "n", "list"])
    }
}

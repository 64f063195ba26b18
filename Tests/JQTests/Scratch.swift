import JQ
import Testing

@Test func scratch() throws {
    let cases: [(String, String)] = [
        (#"{"a":{"b":1,"c":2}}"#, "pick(.a.b)"), ("[-1.5]", ".[0]|abs"), (#"" a ""#, "trim, ltrim, rtrim"),
        ("null", "[limit(0;1,2)]"), ("null", "isempty(1,error(\"x\"))"), (#""aXbXc""#, #"[gsub("X"; "1","2")]"#),
        (#""aaa""#, #"gsub("";"-")"#), (#""aaa""#, #"sub("";"-")"#), (#""abc""#, #"gsub("(?<x>b)";"[\(.x)]")"#),
        (#""aéb""#, #"index("b"), rindex("b"), indices("")"#), ("null", "if . == null then 1 end"),
        ("null", "'abc' + \"x'y\""), ("null", "env | length"), ("null", "$ENV | length"), ("1", "ltrimstr(\"a\")"),
        (#""x""#, "toboolean"), (#""\u00a0a""#, "trim"), ("null", "[.[]?]"), ("null", ".a.b |"), ("null", "foo(1)"), ("null", "{a: 1"), ("null","\"unterminated"), ("null", "import \"x\" as x; 1"), ("null", "file://README.md"),
        (#""abc""#, #"[scan("b";"g")]"#), ("[1,2]", "add(.[])"),
    ]
    for (input, program) in cases {
        do {
            let compiled = try JQProgram(program)
            let out = try compiled.outputs(try JQValue.parse(input))
            print("\(input) | \(program) => \(out)")
        } catch {
            print("\(input) | \(program) ERR \(error)")
        }
    }
}

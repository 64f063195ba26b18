@testable import JQ
import Testing

@Suite("jq dialect: source rewrites")
struct JQDialectRewriteTests {
    @Test("single-quoted strings become double-quoted; if without else gets else .", arguments: [
        (".a // ''", #".a // """#),
        ("'true'", #""true""#),
        (#"'say "hi"'"#, #""say \"hi\"""#),
        (#"'it\'s'"#, #""it's""#),
        (#""it's" + 'x'"#, #""it's" + "x""#),
        ("if . then 1 end", "if . then 1 else . end"),
        ("if . then 1 else 2 end", "if . then 1 else 2 end"),
        ("if .a then (if .b then 1 end) elif .c then 2 end", "if .a then (if .b then 1 else . end) elif .c then 2 else . end"),
        (".end | .if", ".end | .if"),
        (#""if then end" | $end"#, #""if then end" | $end"#),
        ("\"\\(if . then 1 end)\"", "\"\\(if . then 1 else . end)\""),
        ("if . then 1 end # if without end\n", "if . then 1 else . end # if without end\n"),
        ("reduce .[] as $x (0; . + $x)", "reduce .[] as $x (0; . + $x)"),
    ])
    func rewrites(source: String, expected: String) {
        #expect(JQDialect.rewrite(source).text == expected)
    }

    @Test("env and $ENV are noticed, names that contain them are not", arguments: [
        ("env.HOME", true), ("$ENV.PATH", true), (".env", false), ("$environment", false), (#""env""#, false),
        ("{environment: 1}", false), ("[env]", true),
    ])
    func environmentUse(source: String, uses: Bool) {
        #expect(JQDialect.rewrite(source).usesEnvironment == uses)
    }
}

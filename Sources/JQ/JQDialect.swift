/// The jq dialect of Port's Ocean (jq 1.8) on top of Debian 12's libjq 1.6.
///
/// Two things bridge the gap, both applied to every program before it is compiled:
/// - a **prelude** of jq definitions for the 1.7/1.8 builtins that mappings use and 1.6 lacks or gets
///   wrong (`pick`, `abs`, `trim`, `toarray`, `ltrimstr` on non-strings, `limit(0; ...)`, `sub`/`gsub`
///   with empty matches and several replacement outputs, `indices` on non-ASCII strings, ...);
/// - a **source rewrite**: single-quoted string literals become double-quoted (as Ocean does) and an
///   `if ... then ...` without `else` gets `else .` (1.7 syntax).
///
/// What still differs is listed in `docs/jq-dialect.md`.
public enum JQDialect {
    /// Whether programs may read the process environment (`env`, `$ENV`). Off by default: secrets in
    /// the environment must not leak into entities (`OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS`).
    public struct Options: Sendable, Hashable {
        public var allowEnvironmentAccess: Bool

        public init(allowEnvironmentAccess: Bool = false) {
            self.allowEnvironmentAccess = allowEnvironmentAccess
        }
    }

    /// Definitions prepended to every program. Kept on one line so that jq's line numbers in error
    /// messages are off by exactly one, which `JQProgram` corrects.
    static let prelude: String = [
        #"def pick(pathexps): . as $top | reduce path(pathexps) as $p (null; setpath($p; $top | getpath($p)));"#,
        #"def abs: if type == "number" and . < 0 then - . else . end;"#,
        #"def toarray: if type == "array" then . else [.] end;"#,
        #"def have_decnum: false;"#,
        #"def have_literal_numbers: false;"#,
        #"def add(f): reduce f as $x (null; . + $x);"#,
        #"def limit($n; f): if $n > 0 then label $out | foreach f as $item (0; . + 1; $item, if . >= $n then break $out else empty end) elif $n == 0 then empty else error("limit doesn't support negative count") end;"#,
        #"def isempty(g): label $go | (g | false, break $go), true;"#,
        #"def toboolean: if type == "boolean" then . elif . == "true" then true elif . == "false" then false else error("\(type) (\(tojson)) cannot be parsed as a boolean") end;"#,
        #"def ltrimstr($x): if type == "string" and ($x | type) == "string" then (if startswith($x) then .[($x | length):] else . end) else error("startswith() requires string inputs") end;"#,
        #"def rtrimstr($x): if type == "string" and ($x | type) == "string" then (if endswith($x) and ($x | length) > 0 then .[:length - ($x | length)] else . end) else error("endswith() requires string inputs") end;"#,
        #"def trimstr($x): ltrimstr($x) | rtrimstr($x);"#,
        #"def _ocean_capture_object: reduce (.captures[] | select(.name != null) | {(.name): .string}) as $pair ({}; . + $pair);"#,
        // sub/gsub as in 1.7+: empty matches advance, every output of the replacement gives one result.
        #"def sub($re; str; $flags): . as $in | (reduce match($re; $flags) as $m ({parts: [], at: 0}; $in[.at:$m.offset] as $gap | [$m | _ocean_capture_object | str] as $reps | reduce range(0; $reps | length) as $i (.; .parts[$i] += $gap + $reps[$i]) | .at = $m.offset + $m.length)) | if (.parts | length) == 0 then $in else .parts[] + $in[.at:] end;"#,
        #"def sub($re; str): sub($re; str; "");"#,
        #"def gsub($re; str; $flags): sub($re; str; $flags + "g");"#,
        #"def gsub($re; str): sub($re; str; "g");"#,
        #"def scan($re; $flags): match($re; "g" + $flags) | if (.captures | length) > 0 then [.captures[].string] else .string end;"#,
        #"def scan($re): scan($re; null);"#,
        #"def ltrim: if type == "string" then sub("^\\s+"; "") else error("trim input must be a string") end;"#,
        #"def rtrim: if type == "string" then sub("\\s+$"; "") else error("trim input must be a string") end;"#,
        #"def trim: ltrim | rtrim;"#,
        // Offsets in code points, overlapping matches, as 1.7+ (1.6 counts bytes).
        #"def _ocean_strindices($i): if ($i | length) == 0 then [] else (explode) as $s | ($i | explode) as $n | ($n | length) as $k | [range(0; ($s | length) - $k + 1) | select($s[.:. + $k] == $n)] end;"#,
        #"def indices($i): if type == "array" and ($i | type) == "array" then .[$i] elif type == "array" then .[[$i]] elif type == "string" and ($i | type) == "string" then _ocean_strindices($i) else .[$i] end;"#,
        #"def index($i): indices($i) | .[0];"#,
        #"def rindex($i): indices($i) | .[-1:][0];"#,
        #"def debug(msg): (msg | debug | empty), .;"#,
    ].joined(separator: " ")

    /// Shadows `env` and `$ENV` with empty objects when environment access is off.
    static let environmentGuard = #"def env: {}; {} as $ENV | "#

    /// The full text handed to `jq_compile`: prelude (line 1), then the user's program from line 2.
    static func programText(_ source: String, options: Options) -> String {
        let rewritten = rewrite(source)
        let guardText = options.allowEnvironmentAccess ? "" : environmentGuard
        return prelude + " " + guardText + "(\n" + rewritten.text + "\n)"
    }

    /// The result of rewriting a program's source.
    struct Rewritten: Equatable {
        var text: String
        /// The program mentions `env` or `$ENV`.
        var usesEnvironment: Bool
    }

    /// Rewrites single-quoted strings to double-quoted ones and adds `else .` to `if`s without `else`.
    /// Strings (with `\(...)` interpolation) and comments are followed so keywords inside them are left alone.
    static func rewrite(_ source: String) -> Rewritten {
        enum Context { case code(parens: Int), string(quote: Character) }
        var contexts: [Context] = [.code(parens: 0)]
        var ifHasElse: [Bool] = []
        var output = ""
        output.reserveCapacity(source.utf8.count + 16)
        var usesEnvironment = false
        let characters = Array(source)
        var index = 0

        func isWordStart(_ c: Character) -> Bool { c == "_" || c.isASCII && c.isLetter }
        func isWordPart(_ c: Character) -> Bool { isWordStart(c) || c.isASCII && c.isNumber }

        while index < characters.count {
            let c = characters[index]
            switch contexts[contexts.count - 1] {
            case .string(let quote):
                if c == "\\", index + 1 < characters.count {
                    let next = characters[index + 1]
                    if next == "(" {
                        output += "\\("
                        contexts.append(.code(parens: 0))
                        index += 2
                        continue
                    }
                    if quote == "'" && next == "'" {
                        output.append("'")  // \' inside '...' is a plain quote in "..."
                    } else {
                        output.append(c)
                        output.append(next)
                    }
                    index += 2
                    continue
                }
                if c == quote {
                    output.append("\"")
                    contexts.removeLast()
                } else if quote == "'" && c == "\"" {
                    output += "\\\""
                } else {
                    output.append(c)
                }
                index += 1
            case .code(let parens):
                if c == "\"" || c == "'" {
                    output.append("\"")
                    contexts.append(.string(quote: c))
                    index += 1
                } else if c == "#" {
                    while index < characters.count, characters[index] != "\n" {
                        output.append(characters[index])
                        index += 1
                    }
                } else if c == "(" {
                    contexts[contexts.count - 1] = .code(parens: parens + 1)
                    output.append(c)
                    index += 1
                } else if c == ")" {
                    if parens == 0 && contexts.count > 1 {
                        contexts.removeLast()  // closes a string interpolation
                    } else {
                        contexts[contexts.count - 1] = .code(parens: max(0, parens - 1))
                    }
                    output.append(c)
                    index += 1
                } else if isWordStart(c) {
                    var end = index
                    while end < characters.count, isWordPart(characters[end]) { end += 1 }
                    let word = String(characters[index..<end])
                    // `.end`, `$end`, `@end` and `mod::end` are names, not keywords.
                    let before: Character = index > 0 ? characters[index - 1] : " "
                    let isKeywordPosition = before != "." && before != "$" && before != "@"
                        && !(end + 1 < characters.count && characters[end] == ":" && characters[end + 1] == ":")
                    if isKeywordPosition {
                        switch word {
                        case "if": ifHasElse.append(false)
                        case "else": if !ifHasElse.isEmpty { ifHasElse[ifHasElse.count - 1] = true }
                        case "end":
                            if let hasElse = ifHasElse.popLast(), !hasElse { output += "else . " }
                        case "env": usesEnvironment = true
                        default: break
                        }
                    } else if before == "$" && word == "ENV" {
                        usesEnvironment = true
                    }
                    output += word
                    index = end
                } else {
                    output.append(c)
                    index += 1
                }
            }
        }
        return Rewritten(text: output, usesEnvironment: usesEnvironment)
    }
}

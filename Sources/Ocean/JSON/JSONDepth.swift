/// How deeply JSON text nests, found without parsing it.
public enum JSONDepth {
    /// The deepest nesting jq parses: libjq refuses a 257th open array or object ("Exceeds depth
    /// limit for parsing"). A delivery nested deeper could be accepted but never applied.
    public static let jqLimit = 256

    /// Whether `bytes` opens more than `limit` arrays or objects inside one another (brackets in
    /// strings do not count).
    public static func exceeds(_ bytes: [UInt8], limit: Int = jqLimit) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
            default:
                break
            }
        }
        return false
    }
}

/// How deeply JSON text nests, found without parsing it.
public enum JSONDepth {
    /// The deepest nesting jq parses: libjq refuses a 257th open array or object ("Exceeds depth
    /// limit for parsing"). A delivery nested deeper could be accepted but never applied.
    public static let jqLimit = 256

    /// Whether `bytes` opens more than `limit` arrays or objects inside one another (brackets in
    /// strings do not count).
    public static func exceeds(_ bytes: [UInt8], limit: Int = jqLimit) -> Bool {
        var nesting = JSONNesting()
        for byte in bytes where nesting.step(byte) == .opened && nesting.depth > limit {
            return true
        }
        return false
    }
}

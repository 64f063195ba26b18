/// Where a scan through JSON text is: inside a string or not, and how many arrays and objects are
/// open. Fed one byte at a time, it lets JSON be split or measured without being parsed.
struct JSONNesting {
    /// Arrays and objects open now.
    var depth = 0
    private(set) var inString = false
    private var escaped = false

    /// What one byte did to the structure.
    enum Step: Equatable {
        /// Inside a string, or a byte that opens or closes nothing.
        case none
        /// `[` or `{` outside a string.
        case opened
        /// `]` or `}` outside a string.
        case closed
        /// `,` outside a string.
        case separator
    }

    mutating func step(_ byte: UInt8) -> Step {
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
            return .none
        }
        switch byte {
        case UInt8(ascii: "\""):
            inString = true
            return .none
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            depth += 1
            return .opened
        case UInt8(ascii: "]"), UInt8(ascii: "}"):
            depth -= 1
            return .closed
        case UInt8(ascii: ","):
            return .separator
        default:
            return .none
        }
    }
}

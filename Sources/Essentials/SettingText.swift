/// How settings given as text (environment variables, integration config) read as values.
public enum SettingText {
    /// `true`/`false`, also `1`/`0`, `yes`/`no`, `on`/`off` (any case, surrounding blanks ignored);
    /// nil for anything else.
    public static func bool(_ text: String) -> Bool? {
        switch text.trimmingWhitespace().lowercased() {
        case "true", "1", "yes", "on": true
        case "false", "0", "no", "off": false
        default: nil
        }
    }

    /// A whole number (surrounding blanks ignored); nil for anything else.
    public static func int(_ text: String) -> Int? {
        Int(text.trimmingWhitespace())
    }
}

extension String {
    /// The text without leading and trailing white space.
    public func trimmingWhitespace() -> String {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return String(self[start..<max(start, end)])
    }
}

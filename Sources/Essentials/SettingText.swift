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

extension SettingText {
    /// A name as one level of an environment variable: `clientId` and `client_id` both give
    /// `CLIENT_ID` (camelCase boundaries become `_`, as Ocean's settings read them).
    public static func variableComponent(_ name: String) -> String {
        var result = ""
        var previous: Character?
        for character in name {
            if let previous, previous.isLowercase || previous.isNumber, character.isUppercase {
                result.append("_")
            }
            result.append(character.isLetter || character.isNumber ? Character(character.uppercased()) : "_")
            previous = character
        }
        return result
    }

    /// A name as an integration reads it: `entityAmount`, `ENTITY_AMOUNT` and `entity_amount` are
    /// all `entity_amount`.
    public static func settingKey(_ name: String) -> String {
        variableComponent(name).lowercased()
    }
}

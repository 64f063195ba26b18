import Essentials
import OceanKit
import OceanEngine

/// `config.yaml`, Ocean's layout, read as the environment variables it stands for:
/// `port.clientId` is `OCEAN__PORT__CLIENT_ID`, `integration.config.jiraHost` is
/// `OCEAN__INTEGRATION__CONFIG__JIRA_HOST`, `application.port` is `APPLICATION__PORT`. Keys may be
/// camelCase or snake_case. A string value `{{ from env NAME }}` is the variable `NAME`'s value
/// (unset when the variable is). An integration setting whose value is a mapping or a list is kept as
/// JSON text, as the variable would hold it.
struct ConfigFile: Sendable {
    /// By variable name: the value, and the key as written in the file.
    let values: [String: (value: String, key: String)]
    let path: String

    init(_ text: String, path: String, environment: Environment) throws(SettingErrors) {
        self.path = path
        let document: JSON
        do {
            document = try JSON.parseYAML(text)
        } catch {
            throw SettingErrors([SettingError(path, error.message)])
        }
        guard case .object(let root) = document else {
            throw SettingErrors([SettingError(path, "must be a mapping of settings, got \(document.kindName)")])
        }
        var values: [String: (value: String, key: String)] = [:]
        var errors: [SettingError] = []

        // Children of `integration.config` are leaves: an integration setting may be a mapping or list.
        func add(_ value: JSON, key: String, name: String, leaf: Bool) {
            switch value {
            case .null:
                break
            case .object(let object) where !leaf:
                for (childKey, child) in object {
                    add(child, key: key + "." + childKey, name: name + "__" + SettingText.variableComponent(childKey),
                        leaf: name == "OCEAN__INTEGRATION__CONFIG")
                }
            case .array where !leaf:
                errors.append(SettingError(path, "\(key): a list is not a setting here"))
            case .string(let text):
                switch Self.reference(in: text) {
                case .none:
                    values[name] = (text, key)
                case .variable(let variable):
                    if let resolved = environment[variable] { values[name] = (resolved, key) }
                case .unknown(let provider):
                    errors.append(SettingError(path, "\(key): \"{{ from \(provider.prefix(40)) }}\" is not known; use {{ from env NAME }}"))
                }
            case .bool, .number, .object, .array:
                values[name] = (value.settingText, key)
            }
        }

        for (key, value) in root {
            let component = SettingText.variableComponent(key)
            let name = component == "APPLICATION" ? component : "OCEAN__" + component
            add(value, key: key, name: name, leaf: false)
        }
        guard errors.isEmpty else { throw SettingErrors(errors) }
        self.values = values
    }

    private enum Reference {
        case none
        case variable(String)
        case unknown(String)
    }

    /// `{{ from env NAME }}` (blanks around the parts allowed), Ocean's way to read a variable.
    private static func reference(in text: String) -> Reference {
        let trimmed = text.trimmingWhitespace()
        guard trimmed.hasPrefix("{{"), trimmed.hasSuffix("}}"), trimmed.count >= 4 else { return .none }
        let inner = trimmed.dropFirst(2).dropLast(2).split(whereSeparator: \.isWhitespace)
        guard inner.first == "from" else { return .unknown(inner.joined(separator: " ")) }
        guard inner.count == 3, inner[1] == "env", !inner[2].isEmpty,
              inner[2].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            return .unknown(inner.dropFirst().joined(separator: " "))
        }
        return .variable(String(inner[2]))
    }
}

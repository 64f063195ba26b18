import Essentials

/// An integration's `.port/spec.yaml`: what it is and the settings it takes (`configurations`), as in
/// Ocean. The service checks the settings a user gave against it before anything starts.
///
/// ```yaml
/// type: jira
/// configurations:
///   - name: jiraHost
///     type: url
///     required: true
///   - name: atlassianUserToken
///     type: string
///     required: true
///     sensitive: true
/// ```
public struct IntegrationSpec: Sendable, Hashable {
    /// One entry of `configurations`.
    public struct Setting: Sendable, Hashable {
        /// The kinds of value a setting takes.
        public enum ValueType: String, Sendable, CaseIterable {
            case string, integer, boolean, url, object, array
        }

        /// As written in the spec (`jiraHost`); users set `OCEAN__INTEGRATION__CONFIG__JIRA_HOST`.
        public let name: String
        public let type: ValueType
        public let required: Bool
        /// The default as text (objects and arrays as JSON), nil for none.
        public let defaultValue: String?
        /// Never logged, never in errors, job JSON or metrics.
        public let sensitive: Bool
        public let description: String?

        /// The variable a user sets.
        public var variableName: String { IntegrationConfig.variableName(name) }
    }

    /// The integration type the spec is for.
    public let type: String?
    public let settings: [Setting]

    /// Reads a spec (YAML or JSON); every problem is reported, each with its path.
    public static func parse(_ text: String) throws(ConfigurationErrors) -> IntegrationSpec {
        let document: JSON
        do {
            document = try JSON.parseYAML(text)
        } catch {
            throw ConfigurationErrors([error])
        }
        guard let root = document.objectValue else {
            throw ConfigurationErrors([ConfigurationError(path: "", "the spec must be an object, got \(document.kindName)")])
        }
        var errors: [ConfigurationError] = []
        let type = root["type"]?.stringValue
        var settings: [Setting] = []
        var seen: Set<String> = []
        switch root["configurations"] {
        case nil, .null?:
            break
        case .array(let entries)?:
            for (index, entry) in entries.enumerated() {
                let path = "configurations[\(index)]"
                guard let object = entry.objectValue else {
                    errors.append(ConfigurationError(path: path, "must be an object with name and type, got \(entry.kindName)"))
                    continue
                }
                guard let name = object["name"]?.stringValue, !name.isEmpty else {
                    errors.append(ConfigurationError(path: path + ".name", "is required and must be a string"))
                    continue
                }
                guard seen.insert(SettingText.settingKey(name)).inserted else {
                    errors.append(ConfigurationError(path: path + ".name", "\"\(name)\" is declared twice"))
                    continue
                }
                let known = Setting.ValueType.allCases.map(\.rawValue).joined(separator: ", ")
                guard let typeName = object["type"]?.stringValue, let valueType = Setting.ValueType(rawValue: typeName) else {
                    errors.append(ConfigurationError(path: path + ".type", "must be one of \(known), got \(object["type"]?.jsonText ?? "nothing")"))
                    continue
                }
                var flags: [String: Bool] = [:]
                for flag in ["required", "sensitive"] {
                    switch object[flag] {
                    case nil, .null?: flags[flag] = false
                    case .bool(let value)?: flags[flag] = value
                    case let other?: errors.append(ConfigurationError(path: "\(path).\(flag)", "must be true or false, got \(other.jsonText)"))
                    }
                }
                var defaultValue: String?
                if let given = object["default"], given != .null {
                    let text = given.settingText
                    if let problem = Self.problem(with: text, as: valueType) {
                        errors.append(ConfigurationError(path: path + ".default", problem))
                    } else {
                        defaultValue = text
                    }
                }
                settings.append(Setting(
                    name: name, type: valueType, required: flags["required"] ?? false, defaultValue: defaultValue,
                    sensitive: flags["sensitive"] ?? false, description: object["description"]?.stringValue))
            }
        case let other?:
            errors.append(ConfigurationError(path: "configurations", "must be a list, got \(other.kindName)"))
        }
        guard errors.isEmpty else { throw ConfigurationErrors(errors) }
        return IntegrationSpec(type: type, settings: settings)
    }

    public init(type: String?, settings: [Setting]) {
        self.type = type
        self.settings = settings
    }

    /// The setting named `name` (in any of its spellings).
    public func setting(named name: String) -> Setting? {
        let key = SettingText.settingKey(name)
        return settings.first { SettingText.settingKey($0.name) == key }
    }

    /// A value given for a setting, with where it came from when not the environment (for messages:
    /// `config.yaml: integration.config.jiraHost`, `in .env`).
    public struct GivenValue: Sendable {
        public let text: String
        public let origin: String?

        public init(_ text: String, origin: String? = nil) {
            self.text = text
            self.origin = origin
        }
    }

    /// The integration config the spec allows: given values checked by type, defaults filled in.
    /// Problems (a required setting missing, a value of the wrong type) name the variable a user sets
    /// and never show a sensitive value; names the spec does not declare are `unknown`.
    public func resolve(_ given: [String: GivenValue]) -> (config: IntegrationConfig, problems: [ConfigurationError], unknown: [String]) {
        var byKey: [String: (name: String, value: GivenValue)] = [:]
        for (name, value) in given { byKey[SettingText.settingKey(name)] = (name, value) }
        var values: [String: String] = [:]
        var problems: [ConfigurationError] = []
        for setting in settings {
            let key = SettingText.settingKey(setting.name)
            let entry = byKey.removeValue(forKey: key)
            let origin = entry?.value.origin.map { " (\($0))" } ?? ""
            guard let text = entry?.value.text, !text.isEmpty else {
                if let defaultValue = setting.defaultValue {
                    values[key] = defaultValue
                } else if setting.required {
                    problems.append(ConfigurationError(
                        path: setting.variableName,
                        "is required by the integration's spec (\(setting.type.rawValue)\(setting.description.map { ": \($0)" } ?? ""))"))
                }
                continue
            }
            if let problem = Self.problem(with: text, as: setting.type, sensitive: setting.sensitive) {
                problems.append(ConfigurationError(path: setting.variableName + origin, problem))
            } else {
                values[key] = text
            }
        }
        for (key, entry) in byKey { values[key] = entry.value.text }
        return (IntegrationConfig(values, sensitive: sensitiveNames), problems, byKey.values.map(\.name).sorted())
    }

    /// Every name whose value is a secret.
    public var sensitiveNames: [String] { settings.filter(\.sensitive).map(\.name) }

    /// What is wrong with `text` as a value of `type`, nil when nothing.
    private static func problem(with text: String, as type: Setting.ValueType, sensitive: Bool = false) -> String? {
        let shown = sensitive ? "a value (hidden: the setting is sensitive)" : "\"\(text.prefix(60))\""
        switch type {
        case .string:
            return nil
        case .integer:
            return SettingText.int(text) == nil ? "must be a whole number, got \(shown)" : nil
        case .boolean:
            return SettingText.bool(text) == nil ? "must be true or false, got \(shown)" : nil
        case .url:
            return isURL(text) ? nil : "must be a URL such as https://example.com, got \(shown)"
        case .object, .array:
            let parsed = try? JSON.parseYAML(text)
            switch (type, parsed) {
            case (.object, .object?), (.array, .array?): return nil
            default: return "must be a JSON \(type.rawValue), got \(shown)"
            }
        }
    }

    /// `scheme://host...`: a scheme of letters, a host, no blanks.
    private static func isURL(_ text: String) -> Bool {
        let trimmed = text.trimmingWhitespace()
        guard let separator = trimmed.firstRange(of: "://"), !trimmed.contains(where: \.isWhitespace) else { return false }
        let scheme = trimmed[..<separator.lowerBound]
        let rest = trimmed[separator.upperBound...]
        return !scheme.isEmpty && scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0 == "+" || $0 == "-" || $0 == ".") }
            && !rest.isEmpty && rest.first != "/"
    }
}

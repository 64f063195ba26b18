import Essentials

/// The integration's settings: `OCEAN__INTEGRATION__CONFIG__<NAME>` variables, the `integration.config`
/// section of `config.yaml`, and the defaults of the integration's spec. Names are compared as Ocean
/// does: `entityAmount` (the spec, `config.yaml`), `ENTITY_AMOUNT` (the variable) and `entity_amount`
/// are one setting.
///
/// Typed reads fail with a `ConfigurationError` naming the variable a user would set.
public struct IntegrationConfig: Sendable, Hashable {
    /// Every value as given, by `SettingText.settingKey` (`entity_amount`).
    public let raw: [String: String]
    /// The keys of values that are secrets (the spec's `sensitive`): masked when the config is printed.
    public let sensitiveKeys: Set<String>

    public init(_ raw: [String: String] = [:], sensitive: [String] = []) {
        var normalized: [String: String] = [:]
        for (key, value) in raw { normalized[SettingText.settingKey(key)] = value }
        self.raw = normalized
        sensitiveKeys = Set(sensitive.map(SettingText.settingKey))
    }

    /// The variable a user sets for `name`.
    public static func variableName(_ name: String) -> String {
        "OCEAN__INTEGRATION__CONFIG__" + SettingText.variableComponent(name)
    }

    public subscript(name: String) -> String? {
        raw[SettingText.settingKey(name)]
    }

    /// A string, or `defaultValue` when unset or empty.
    public func string(_ name: String, default defaultValue: String? = nil) -> String? {
        guard let value = self[name], !value.isEmpty else { return defaultValue }
        return value
    }

    /// A required string.
    public func requiredString(_ name: String) throws(ConfigurationError) -> String {
        guard let value = string(name) else {
            throw ConfigurationError(path: Self.variableName(name), "is required")
        }
        return value
    }

    /// A whole number within `range`, or `defaultValue` when unset.
    public func int(_ name: String, default defaultValue: Int, in range: ClosedRange<Int> = Int.min...Int.max) throws(ConfigurationError) -> Int {
        guard let text = string(name) else { return defaultValue }
        guard let value = SettingText.int(text) else {
            throw ConfigurationError(path: Self.variableName(name), "must be a whole number, got \"\(text.prefix(40))\"")
        }
        guard range.contains(value) else {
            throw ConfigurationError(path: Self.variableName(name), "must be from \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
        return value
    }

    /// A boolean (`true`/`false`, also `1`/`0`, `yes`/`no`), or `defaultValue` when unset.
    public func bool(_ name: String, default defaultValue: Bool) throws(ConfigurationError) -> Bool {
        guard let text = string(name) else { return defaultValue }
        guard let value = SettingText.bool(text) else {
            throw ConfigurationError(path: Self.variableName(name), "must be true or false, got \"\(text.prefix(40))\"")
        }
        return value
    }
}

extension IntegrationConfig: CustomStringConvertible, CustomDebugStringConvertible {
    /// The settings with sensitive values masked.
    public var description: String {
        let shown = raw.keys.sorted().map { key in "\(key): \(sensitiveKeys.contains(key) ? SecretRedactor.mask : raw[key]!)" }
        return "IntegrationConfig(" + shown.joined(separator: ", ") + ")"
    }

    public var debugDescription: String { description }
}

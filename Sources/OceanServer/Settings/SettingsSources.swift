import Configuration
import Essentials
import Foundation
public import Logging
import OceanKit
import OceanEngine

/// Where the service's settings come from, highest precedence first: command-line flags, the
/// environment, a `.env` file, `config.yaml`. Every source speaks the environment's names
/// (`OCEAN__PORT__CLIENT_ID`): a flag or a `config.yaml` key (`port.clientId`) is another way to
/// set one, so errors can always name the variable, and where the value came from.
///
/// Lookups go through swift-configuration's `ConfigReader`, secrets marked as such.
public struct SettingsSources: Sendable {
    /// One source, for messages.
    private struct Layer: Sendable {
        let provider: any ConfigProvider
        /// Where a name set here comes from, for messages; nil for the environment (the name says it).
        let origin: @Sendable (String) -> String?
    }

    private let reader: ConfigReader
    private let layers: [Layer]
    /// `config.yaml`'s keys by variable name, to tell a user which ones nothing read (typos).
    private let fileKeys: [String: String]
    /// Every name looked up so far.
    private let looked = Locked(Set<String>())
    /// Every name the flags, the environment and `config.yaml` set (a `.env` file is read by name).
    public let names: Set<String>
    /// The process environment (for `{{ from env NAME }}` and jq's `env` when allowed).
    public let environment: Environment

    /// Names always treated as secrets; the spec adds its sensitive settings.
    static func isSecretName(_ name: String) -> Bool {
        SecretRedactor.isSecretName(name)
    }

    /// Sources from the environment alone (tests, embedding).
    public init(environment: Environment) {
        self.init(flags: [:], environment: environment, dotEnv: nil, configFile: nil)
    }

    private init(flags: [String: Flag], environment: Environment,
                 dotEnv: (provider: EnvironmentVariablesProvider, path: String)?, configFile: ConfigFile?) {
        let secrets = SecretsSpecifier<String, String>.dynamic { name, _ in Self.isSecretName(name) }
        var layers: [Layer] = []
        if !flags.isEmpty {
            var values: [AbsoluteConfigKey: ConfigValue] = [:]
            for (name, flag) in flags {
                values[AbsoluteConfigKey([name])] = ConfigValue(.string(flag.value), isSecret: Self.isSecretName(name))
            }
            layers.append(Layer(provider: InMemoryProvider(name: "flags", values: values)) { flags[$0]?.flag })
        }
        // An empty variable counts as unset, so it does not hide config.yaml's value.
        let set = environment.values.filter { !$0.value.isEmpty }
        layers.append(Layer(provider: EnvironmentVariablesProvider(environmentVariables: set, secretsSpecifier: secrets)) { _ in nil })
        if let dotEnv {
            layers.append(Layer(provider: dotEnv.provider) { _ in "in \(dotEnv.path)" })
        }
        if let configFile {
            var values: [AbsoluteConfigKey: ConfigValue] = [:]
            for (name, entry) in configFile.values {
                values[AbsoluteConfigKey([name])] = ConfigValue(.string(entry.value), isSecret: Self.isSecretName(name))
            }
            layers.append(Layer(provider: InMemoryProvider(name: configFile.path, values: values)) { name in
                configFile.values[name].map { "\(configFile.path): \($0.key)" }
            })
        }
        self.layers = layers
        fileKeys = configFile.map { file in file.values.mapValues { "\(file.path): \($0.key)" } } ?? [:]
        self.reader = ConfigReader(providers: layers.map(\.provider))
        self.environment = environment
        self.names = Set(flags.keys).union(set.keys).union(configFile.map { Array($0.values.keys) } ?? [])
    }

    /// A flag's value and how it was spelled.
    public struct Flag: Sendable {
        public let flag: String
        public let value: String

        public init(_ flag: String, _ value: String) {
            self.flag = flag
            self.value = value
        }
    }

    /// Reads every source. `configFile` is `config.yaml` (used when it exists) unless a path is given
    /// (then it must exist); `.env` in the working directory is used when it exists.
    public static func load(
        flags: [String: Flag] = [:], environment: Environment = .current,
        configFile: String? = nil, dotEnvPath: String = ".env"
    ) async throws(SettingErrors) -> SettingsSources {
        var errors: [SettingError] = []
        let configPath = configFile ?? environment["OCEAN__CONFIG__PATH"]
        var file: ConfigFile?
        let path = configPath ?? "config.yaml"
        if configPath != nil || FileManager.default.fileExists(atPath: path) {
            do {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                do {
                    file = try ConfigFile(text, path: path, environment: environment)
                } catch {
                    errors += error.errors
                }
            } catch {
                let name = configFile != nil ? "--config" : "OCEAN__CONFIG__PATH"
                errors.append(SettingError(name, "cannot read \(path): \(error.localizedDescription)"))
            }
        }
        var dotEnv: (EnvironmentVariablesProvider, String)?
        if FileManager.default.fileExists(atPath: dotEnvPath) {
            do {
                let secrets = SecretsSpecifier<String, String>.dynamic { name, _ in isSecretName(name) }
                dotEnv = (try await EnvironmentVariablesProvider(environmentFilePath: .init(dotEnvPath), secretsSpecifier: secrets), dotEnvPath)
            } catch {
                errors.append(SettingError(dotEnvPath, "cannot be read: \(error)"))
            }
        }
        guard errors.isEmpty else { throw SettingErrors(errors) }
        return SettingsSources(flags: flags, environment: environment, dotEnv: dotEnv, configFile: file)
    }

    /// The value of `name` from the first source that sets it; nil when none does or it is empty.
    public subscript(name: String) -> String? {
        looked.withLock { _ = $0.insert(name) }
        let value = reader.string(forKey: ConfigKey([name]), isSecret: Self.isSecretName(name))
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    /// `config.yaml` keys no setting was read from so far: after every setting has been read, the
    /// keys swift-ocean does not know (`config.yaml: prot.clientId`).
    var unreadFileKeys: [String] {
        let looked = self.looked.withLock { $0 }
        return fileKeys.filter { !looked.contains($0.key) }.map(\.value).sorted()
    }

    /// The values of every setting whose name says it is a secret.
    var secretValues: [String] {
        names.filter(Self.isSecretName).compactMap { self[$0] }
    }

    /// Where the value of `name` comes from (`--port`, `in .env`, `config.yaml: application.port`);
    /// nil when from the environment or unset.
    public func origin(_ name: String) -> String? {
        for layer in layers {
            if let result = try? layer.provider.value(forKey: AbsoluteConfigKey([name]), type: .string), result.value != nil {
                return layer.origin(name)
            }
        }
        return nil
    }

    /// `name` as messages show it: the variable, and the flag or file that set it.
    public func label(_ name: String) -> String {
        guard let origin = origin(name) else { return name }
        return origin.hasPrefix("-") ? "\(origin) (\(name))" : "\(name) (\(origin))"
    }

    /// A whole number, or nil when unset.
    public func integer(_ name: String) throws(SettingError) -> Int? {
        guard let text = self[name] else { return nil }
        guard let value = SettingText.int(text) else {
            throw SettingError(label(name), "must be a whole number, got \(shown(text, name))")
        }
        return value
    }

    /// A boolean (true/false, also 1/0, yes/no, on/off), or nil when unset.
    public func bool(_ name: String) throws(SettingError) -> Bool? {
        guard let text = self[name] else { return nil }
        guard let value = SettingText.bool(text) else {
            throw SettingError(label(name), "must be true or false, got \(shown(text, name))")
        }
        return value
    }

    /// A swift-log level (also `warn` and `fatal`), or nil when unset.
    public func logLevel(_ name: String) throws(SettingError) -> Logger.Level? {
        guard let text = self[name] else { return nil }
        let normalized = text.trimmingWhitespace().lowercased()
        let aliases: [String: Logger.Level] = ["warn": .warning, "fatal": .critical]
        guard let level = Logger.Level(rawValue: normalized) ?? aliases[normalized] else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw SettingError(label(name), "must be one of \(names), got \"\(text.prefix(40))\"")
        }
        return level
    }

    /// A value as error messages quote it: a secret is never shown.
    func shown(_ text: String, _ name: String) -> String {
        Self.isSecretName(name) ? "a value (hidden: it is a secret)" : "\"\(text.prefix(60))\""
    }
}

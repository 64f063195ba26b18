import Essentials
public import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The process environment, with typed reads that fail with the variable's name.
public struct Environment: Sendable {
    public let values: [String: String]

    public init(values: [String: String]) {
        self.values = values
    }

    /// The environment of this process.
    public static var current: Environment {
        var values: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                values[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return Environment(values: values)
    }

    /// The value of `name`; nil when unset or empty.
    public subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    /// A whole number, or nil when unset.
    public func integer(_ name: String) throws(SettingError) -> Int? {
        guard let text = self[name] else { return nil }
        guard let value = SettingText.int(text) else {
            throw SettingError(name, "must be a whole number, got \"\(text.prefix(40))\"")
        }
        return value
    }

    /// A boolean (true/false, also 1/0, yes/no, on/off), or nil when unset.
    public func bool(_ name: String) throws(SettingError) -> Bool? {
        guard let text = self[name] else { return nil }
        guard let value = SettingText.bool(text) else {
            throw SettingError(name, "must be true or false, got \"\(text.prefix(40))\"")
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
            throw SettingError(name, "must be one of \(names), got \"\(text.prefix(40))\"")
        }
        return level
    }
}

/// A setting with a bad value: the name a user sets, and what is wrong.
public struct SettingError: Error, Sendable, CustomStringConvertible {
    public let name: String
    public let message: String

    public init(_ name: String, _ message: String) {
        self.name = name
        self.message = message
    }

    public var description: String { "\(name) \(message)" }
}

import Essentials
public import Logging

/// What each component's `init(reader:)` reads its settings through: typed values by name, every
/// problem collected (named as the user sets it) instead of thrown, so all are reported at once.
public final class SettingsReader {
    /// Where the values come from (flags, the environment, `.env`, `config.yaml`).
    public let sources: SettingsSources
    /// Every problem found so far.
    public private(set) var errors: [SettingError] = []
    /// Values never to be shown, as they are read.
    public var secrets: [String] = []
    /// Things worth a warning at start.
    public var warnings: [String] = []

    public init(_ sources: SettingsSources) {
        self.sources = sources
    }

    /// The raw text of `name`, nil when unset.
    public subscript(name: String) -> String? {
        sources[name]
    }

    /// Records a problem with `name`.
    public func fail(_ name: String, _ message: String) {
        errors.append(SettingError(sources.label(name), message))
    }

    /// Records a problem already named as the user sets it.
    public func record(_ error: SettingError) {
        errors.append(error)
    }

    /// A whole number within `range`; nil when unset or bad (then the problem is recorded).
    public func integer(_ name: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = read({ () throws(SettingError) in try sources.integer(name) }) else { return nil }
        guard range.contains(value) else {
            fail(name, "must be from \(range.lowerBound) to \(range.upperBound), got \(value)")
            return nil
        }
        return value
    }

    /// A duration given in whole seconds within `range`.
    public func seconds(_ name: String, in range: ClosedRange<Int>) -> Duration? {
        integer(name, in: range).map { .seconds($0) }
    }

    /// `true`/`false` (and Ocean's other spellings); nil when unset or bad.
    public func bool(_ name: String) -> Bool? {
        read { () throws(SettingError) in try sources.bool(name) }
    }

    /// A log level; nil when unset or bad.
    public func logLevel(_ name: String) -> Logger.Level? {
        read { () throws(SettingError) in try sources.logLevel(name) }
    }

    private func read<Value>(_ body: () throws(SettingError) -> Value?) -> Value? {
        do {
            return try body()
        } catch {
            errors.append(error)
            return nil
        }
    }
}

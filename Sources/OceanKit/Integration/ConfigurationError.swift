import Yams

/// Where a configuration problem is: a path such as `resources[2].port.entity.mappings.title`.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The path of the offending value (empty for the whole document).
    public let path: String
    public let message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

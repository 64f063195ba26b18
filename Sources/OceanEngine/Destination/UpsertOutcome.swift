import OceanKit



/// What one upsert call did.
public struct UpsertOutcome: Sendable, Hashable {
    public var upserted: Int
    /// Entities the destination refused, with why.
    public var failures: [UpsertFailure]

    public init(upserted: Int, failures: [UpsertFailure] = []) {
        self.upserted = upserted
        self.failures = failures
    }
}

/// One entity the destination refused.
public struct UpsertFailure: Sendable, Hashable {
    public let blueprint: String
    public let identifier: String
    public let message: String

    public init(blueprint: String, identifier: String, message: String) {
        self.blueprint = blueprint
        self.identifier = identifier
        self.message = message
    }
}

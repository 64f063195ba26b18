import OceanKit
import JQ

/// One entity produced by a mapping.
public struct MappedEntity: Sendable, Hashable {
    public let resourceIndex: Int
    public let blueprint: String
    /// The identifier, or the JSON text of a search identifier (`{"combinator": ...}`).
    public let identifier: String
    /// The entity as compact JSON: `identifier`, `title`, `blueprint`, `team`, `icon`,
    /// `properties`, `relations` (those mapped; `properties` and `relations` always).
    public let json: [UInt8]

    public init(resourceIndex: Int, blueprint: String, identifier: String, json: [UInt8]) {
        self.resourceIndex = resourceIndex
        self.blueprint = blueprint
        self.identifier = identifier
        self.json = json
    }
}

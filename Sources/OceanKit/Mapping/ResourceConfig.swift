import Essentials

/// One resource: a kind, the selector that filters its records, and how records become entities.
public struct ResourceConfig: Sendable, Hashable {
    public var kind: String
    /// `selector.query`: a jq expression giving a boolean per record.
    public var query: String
    /// Every selector field, `query` included: integration-specific ones (Jira's `expand`, ...) are
    /// read by the handler with `selector(as:)`.
    public var selector: JSONObject
    /// `port.itemsToParse`: a jq expression giving an array; each element becomes a record.
    public var itemsToParse: String?
    /// `port.itemsToParseName`: the key the element is stored under (default `item`).
    public var itemsToParseName: String
    /// `port.itemsToParseTopLevelTransform`: remove the array from the parent record when
    /// `itemsToParse` is a plain path (default true).
    public var itemsToParseTopLevelTransform: Bool
    /// `port.entity.mappings`: the entity's fields, each a jq expression (or an object of them).
    public var mappings: JSONObject
    /// Keys of the resource this version does not know, kept as given.
    public var unknownKeys: JSONObject
}

/// A problem with one record: a misconfigured field (mapped to null), a selector that did not give a
/// boolean, an entity dropped for lack of identifier or blueprint, a record that is not an object.
public struct MappingProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A field's expression failed or gave nothing: the field is null, the entity is kept.
        case misconfiguredField = "misconfigured_field"
        /// `selector.query` failed or did not give a boolean: the record is skipped.
        case selector
        /// `itemsToParse` failed or did not give an array: the record is skipped.
        case itemsToParse = "items_to_parse"
        /// The entity has no usable identifier or blueprint: it is dropped.
        case droppedEntity = "dropped_entity"
        /// The record is not valid JSON or not a JSON object.
        case invalidRecord = "invalid_record"
    }

    public let kind: Kind
    /// The record's position in its input (0-based).
    public let recordIndex: Int
    /// The element of `itemsToParse`, when the problem is about one.
    public let itemIndex: Int?
    /// The resource, when the problem is about one (nil for a record that could not be read).
    public let resourceIndex: Int?
    public let resourceKind: String?
    /// The field (`properties.url`, `selector.query`, ...), when the problem is about one.
    public let field: String?
    public let message: String

    public init(kind: Kind, recordIndex: Int, itemIndex: Int?, resourceIndex: Int?, resourceKind: String?, field: String?, message: String) {
        self.kind = kind
        self.recordIndex = recordIndex
        self.itemIndex = itemIndex
        self.resourceIndex = resourceIndex
        self.resourceKind = resourceKind
        self.field = field
        self.message = message
    }

    public var description: String {
        var text = "record \(recordIndex)"
        if let itemIndex { text += " item \(itemIndex)" }
        if let resourceIndex, let resourceKind { text += " (resources[\(resourceIndex)], kind \(resourceKind))" }
        if let field { text += " \(field)" }
        return text + ": " + message
    }
}

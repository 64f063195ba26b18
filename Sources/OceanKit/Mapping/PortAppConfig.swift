import Essentials

/// The port app config: Ocean's mapping format, read from YAML or JSON.
///
/// ```yaml
/// deleteDependentEntities: true
/// createMissingRelatedEntities: true
/// resources:
///   - kind: project
///     selector:
///       query: 'true'
///       expand: "insight"          # integration-specific selector field, kept for the handler
///     port:
///       itemsToParse: .components  # optional: one record per element
///       entity:
///         mappings:
///           identifier: .key
///           title: .name
///           blueprint: '"jiraProject"'
///           properties:
///             url: .self
/// ```
///
/// Every string in `mappings` is a jq expression (search objects such as
/// `{combinator: '"and"', rules: [...]}` included, as in Ocean). Unknown keys are kept and
/// reported as warnings, never fatal.
public struct PortAppConfig: Sendable, Hashable {
    public var resources: [ResourceConfig]
    public var enableMergeEntity: Bool
    public var deleteDependentEntities: Bool
    public var createMissingRelatedEntities: Bool
    /// Largest share of a blueprint's owned entities a resync may delete (0...1).
    public var entityDeletionThreshold: Double
    /// Top-level keys this version does not know, kept as given.
    public var unknownKeys: JSONObject

    /// Reads a config from YAML or JSON text. Problems that make it unusable throw (all of them,
    /// each with its path); unknown keys come back as warnings.
    public static func parse(_ text: String) throws(ConfigurationErrors) -> (config: PortAppConfig, warnings: [ConfigurationError]) {
        let document: JSON
        do {
            document = try JSON.parseYAML(text)
        } catch {
            throw ConfigurationErrors([error])
        }
        return try PortAppConfig.decode(document)
    }

    /// Reads a config from an already parsed document (for example Port's `integration.config`).
    public static func decode(_ document: JSON) throws(ConfigurationErrors) -> (config: PortAppConfig, warnings: [ConfigurationError]) {
        var reader = ConfigReader()
        let config = reader.portAppConfig(document)
        guard reader.errors.isEmpty, let config else { throw ConfigurationErrors(reader.errors) }
        return (config, reader.warnings)
    }

    /// The resources of `kind`, with their positions in `resources`.
    public func resources(ofKind kind: String) -> [(index: Int, resource: ResourceConfig)] {
        resources.enumerated().filter { $0.element.kind == kind }.map { (index: $0.offset, resource: $0.element) }
    }

    /// The kinds, in order of first appearance.
    public var kinds: [String] {
        var seen = Set<String>()
        return resources.map(\.kind).filter { seen.insert($0).inserted }
    }
}

/// Walks a config document, collecting every error and warning instead of stopping at the first.
private struct ConfigReader {
    var errors: [ConfigurationError] = []
    var warnings: [ConfigurationError] = []

    private static let topLevelKeys: Set<String> = [
        "resources", "enableMergeEntity", "deleteDependentEntities", "createMissingRelatedEntities",
        "entityDeletionThreshold",
    ]
    private static let resourceKeys: Set<String> = ["kind", "selector", "port"]
    private static let portKeys: Set<String> = ["entity", "itemsToParse", "itemsToParseName", "itemsToParseTopLevelTransform"]
    static let mappingKeys: Set<String> = ["identifier", "title", "blueprint", "team", "icon", "properties", "relations"]

    mutating func portAppConfig(_ document: JSON) -> PortAppConfig? {
        guard let root = document.objectValue else {
            errors.append(ConfigurationError(path: "", "the mapping must be an object with `resources`, got \(document.kindName)"))
            return nil
        }
        var config = PortAppConfig(
            resources: [], enableMergeEntity: true, deleteDependentEntities: true, createMissingRelatedEntities: true,
            entityDeletionThreshold: 0.9, unknownKeys: unknown(root, known: Self.topLevelKeys, path: ""))
        config.enableMergeEntity = bool(root, "enableMergeEntity", path: "", default: true)
        config.deleteDependentEntities = bool(root, "deleteDependentEntities", path: "", default: true)
        config.createMissingRelatedEntities = bool(root, "createMissingRelatedEntities", path: "", default: true)
        if let threshold = root["entityDeletionThreshold"] {
            if let value = threshold.numberValue, (0...1).contains(value) {
                config.entityDeletionThreshold = value
            } else {
                errors.append(ConfigurationError(
                    path: "entityDeletionThreshold", "must be a number from 0 to 1, got \(threshold.jsonText.prefix(40))"))
            }
        }
        guard let resources = root["resources"] else {
            errors.append(ConfigurationError(path: "resources", "is required (a list of resources)"))
            return config
        }
        guard case .array(let list) = resources else {
            errors.append(ConfigurationError(path: "resources", "must be a list, got \(resources.kindName)"))
            return config
        }
        for (index, element) in list.enumerated() {
            if let resource = resource(element, path: "resources[\(index)]") {
                config.resources.append(resource)
            }
        }
        return config
    }

    private mutating func resource(_ value: JSON, path: String) -> ResourceConfig? {
        guard let object = value.objectValue else {
            errors.append(ConfigurationError(path: path, "must be an object, got \(value.kindName)"))
            return nil
        }
        let kind = nonEmptyString(object, "kind", path: path)
        var query: String?
        var selector = JSONObject()
        if let selectorValue = object["selector"] {
            if let selectorObject = selectorValue.objectValue {
                selector = selectorObject
                query = nonEmptyString(selectorObject, "query", path: "\(path).selector")
            } else {
                errors.append(ConfigurationError(path: "\(path).selector", "must be an object, got \(selectorValue.kindName)"))
            }
        } else {
            errors.append(ConfigurationError(path: "\(path).selector", "is required (with a `query`, e.g. 'true')"))
        }
        guard let port = object["port"]?.objectValue else {
            errors.append(ConfigurationError(path: "\(path).port", object["port"] == nil ? "is required" : "must be an object"))
            return nil
        }
        let portPath = "\(path).port"
        _ = unknown(port, known: Self.portKeys, path: portPath)
        var itemsToParse: String?
        if let items = port["itemsToParse"] {
            if let text = items.stringValue, !text.trimmingWhitespace().isEmpty {
                itemsToParse = text
            } else if items != .null {
                errors.append(ConfigurationError(path: "\(portPath).itemsToParse", "must be a jq expression (a string), got \(items.kindName)"))
            }
        }
        var itemsToParseName = "item"
        if let name = port["itemsToParseName"] {
            if let text = name.stringValue, text.isValidJQKey {
                itemsToParseName = text
            } else {
                errors.append(ConfigurationError(path: "\(portPath).itemsToParseName", "must be a non-empty name, got \(name.jsonText.prefix(40))"))
            }
        }
        let topLevelTransform = bool(port, "itemsToParseTopLevelTransform", path: portPath, default: true)
        guard let entity = port["entity"]?.objectValue else {
            errors.append(ConfigurationError(path: "\(portPath).entity", "is required (an object with `mappings`)"))
            return nil
        }
        guard let mappings = entity["mappings"]?.objectValue else {
            errors.append(ConfigurationError(path: "\(portPath).entity.mappings", entity["mappings"] == nil ? "is required" : "must be an object"))
            return nil
        }
        let mappingsPath = "\(portPath).entity.mappings"
        _ = unknown(mappings, known: Self.mappingKeys, path: mappingsPath)
        for required in ["identifier", "blueprint"] where mappings[required] == nil {
            errors.append(ConfigurationError(path: "\(mappingsPath).\(required)", "is required"))
        }
        checkExpressions(.object(mappings), path: mappingsPath)
        for name in ["properties", "relations"] {
            if let value = mappings[name], value.objectValue == nil {
                errors.append(ConfigurationError(path: "\(mappingsPath).\(name)", "must be an object of jq expressions, got \(value.kindName)"))
            }
        }
        for name in ["title", "blueprint", "icon"] {
            if let value = mappings[name], value.stringValue == nil {
                errors.append(ConfigurationError(path: "\(mappingsPath).\(name)", "must be a jq expression (a string), got \(value.kindName)"))
            }
        }
        guard let kind, let query else { return nil }
        return ResourceConfig(
            kind: kind, query: query, selector: selector, itemsToParse: itemsToParse, itemsToParseName: itemsToParseName,
            itemsToParseTopLevelTransform: topLevelTransform, mappings: mappings,
            unknownKeys: unknown(object, known: Self.resourceKeys, path: path))
    }

    /// Leaves of a mapping must be jq expressions (strings); numbers, booleans and null are refused
    /// so a typo such as `title: 42` is not silently sent to Port.
    private mutating func checkExpressions(_ value: JSON, path: String) {
        switch value {
        case .string(let text):
            if text.trimmingWhitespace().isEmpty {
                errors.append(ConfigurationError(path: path, "is an empty expression"))
            }
        case .object(let object):
            for (key, member) in object { checkExpressions(member, path: "\(path).\(key)") }
        case .array(let elements):
            for (index, element) in elements.enumerated() { checkExpressions(element, path: "\(path)[\(index)]") }
        case .null, .bool, .number:
            errors.append(ConfigurationError(path: path, "must be a jq expression (a string), got \(value.kindName) \(value.jsonText)"))
        }
    }

    private mutating func nonEmptyString(_ object: JSONObject, _ key: String, path: String) -> String? {
        guard let value = object[key] else {
            errors.append(ConfigurationError(path: "\(path).\(key)", "is required"))
            return nil
        }
        guard let text = value.stringValue, !text.trimmingWhitespace().isEmpty else {
            errors.append(ConfigurationError(path: "\(path).\(key)", "must be a non-empty string, got \(value.jsonText.prefix(40))"))
            return nil
        }
        return text
    }

    private mutating func bool(_ object: JSONObject, _ key: String, path: String, default defaultValue: Bool) -> Bool {
        guard let value = object[key] else { return defaultValue }
        if let flag = value.boolValue { return flag }
        let where_ = path.isEmpty ? key : "\(path).\(key)"
        errors.append(ConfigurationError(path: where_, "must be true or false, got \(value.jsonText.prefix(40))"))
        return defaultValue
    }

    private mutating func unknown(_ object: JSONObject, known: Set<String>, path: String) -> JSONObject {
        var extra = JSONObject()
        for (key, value) in object where !known.contains(key) {
            extra[key] = value
            warnings.append(ConfigurationError(path: path.isEmpty ? key : "\(path).\(key)", "unknown key, kept and ignored"))
        }
        return extra
    }
}

extension String {
    /// A name usable as an object key in the generated jq (`{"name": ...}` is always quoted, so any
    /// non-empty string without control characters will do).
    var isValidJQKey: Bool {
        !isEmpty && !unicodeScalars.contains { $0.value < 0x20 }
    }
}

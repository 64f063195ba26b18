import Yams

extension JSON {
    /// Parses YAML (or JSON, which YAML includes) into a value, keeping key order.
    public static func parseYAML(_ text: String) throws(ConfigurationError) -> JSON {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(path: "", "not valid YAML or JSON: \(error)")
        }
        guard let node else { throw ConfigurationError(path: "", "the document is empty") }
        return try JSON(node, path: "")
    }

    private init(_ node: Node, path: String) throws(ConfigurationError) {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: self = .null
            case .bool: self = node.bool.map(JSON.bool) ?? .string(scalar.string)
            case .int: self = node.int.map { .number(Double($0)) } ?? node.float.map(JSON.number) ?? .string(scalar.string)
            case .float: self = node.float.map(JSON.number) ?? .string(scalar.string)
            default: self = .string(scalar.string)
            }
        case .mapping(let mapping):
            var object = JSONObject()
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let key) = keyNode else {
                    throw ConfigurationError(path: path, "object keys must be strings")
                }
                let childPath = path.isEmpty ? key.string : "\(path).\(key.string)"
                object[key.string] = try JSON(valueNode, path: childPath)
            }
            self = .object(object)
        case .sequence(let sequence):
            var elements: [JSON] = []
            for (index, element) in sequence.enumerated() {
                elements.append(try JSON(element, path: "\(path)[\(index)]"))
            }
            self = .array(elements)
        case .alias:
            throw ConfigurationError(path: path, "YAML aliases are not supported here")
        }
    }
}

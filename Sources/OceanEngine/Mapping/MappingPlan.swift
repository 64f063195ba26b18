public import OceanKit
import Essentials
public import JQ

/// A problem with the mapping itself (not with a record): a field that does not compile, a value
/// that is not jq. Carries where it is, as `ocean validate` reports it.
public struct MappingIssue: Sendable, Hashable, CustomStringConvertible {
    public let resourceIndex: Int
    public let kind: String
    /// `selector.query`, `port.itemsToParse`, or a mapping field such as `properties.url`.
    public let field: String
    public let code: JQError.Code
    public let message: String

    public var description: String {
        "resources[\(resourceIndex)] (kind \(kind)) \(field): \(message)"
    }
}

/// A validated mapping, ready to run: for each resource, one jq program that applies the selector,
/// `itemsToParse` and every mapping field to a record in a single pass, plus the template that turns
/// that program's output into an entity.
///
/// Build it once (compiling checks every expression); each worker thread then makes its own
/// `EntityMapper`, which compiles the programs for that thread.
public struct MappingPlan: Sendable {
    /// Unique per build: what mapping threads key their compiled programs by.
    public let id: Int
    public let config: PortAppConfig
    public let options: JQDialect.Options
    let resources: [ResourcePlan]

    /// Plans every resource and compiles each program once to check it. Returns the issues found
    /// (every one, with its resource and field); the plan is usable only when there are none.
    public static func build(_ config: PortAppConfig, options: JQDialect.Options = .init()) -> (plan: MappingPlan, issues: [MappingIssue]) {
        var plans: [ResourcePlan] = []
        var issues: [MappingIssue] = []
        for (index, resource) in config.resources.enumerated() {
            let plan = ResourcePlan(index: index, resource: resource)
            issues += plan.check(options: options)
            plans.append(plan)
        }
        return (MappingPlan(id: nextID.withLock { $0 += 1; return $0 }, config: config, options: options, resources: plans), issues)
    }

    /// The indexes of the resources of `kind`.
    public func resourceIndexes(ofKind kind: String) -> [Int] {
        resources.filter { $0.kind == kind }.map(\.index)
    }

    /// The blueprint a resource always produces, when its expression is a plain string literal
    /// (`'"service"'`); nil when it is computed per record.
    public static func constantBlueprint(of resource: ResourceConfig) -> String? {
        guard let expression = resource.mappings["blueprint"]?.stringValue else { return nil }
        let text = expression.trimmingWhitespace()
        guard let quote = text.first, quote == "\"" || quote == "'", text.count >= 2, text.last == quote else { return nil }
        let body = text.dropFirst().dropLast()
        // Escapes (and so interpolation) or a second literal make it something to compute: not constant.
        guard !body.contains("\\"), !body.contains(quote), !body.isEmpty else { return nil }
        return String(body)
    }

    /// Every expression of the mapping, for tools that list or count them.
    public var expressionCount: Int {
        resources.reduce(0) { $0 + $1.fields.count + 1 + ($1.itemsToParse == nil ? 0 : 1) }
    }
}

private let nextID = Locked(0)

/// How the entity is assembled from the program's flat list of field results.
indirect enum EntityTemplate: Sendable {
    case field(Int)
    case object([(key: String, value: EntityTemplate)])
    case array([EntityTemplate])
}

/// One resource's compiled form.
struct ResourcePlan: Sendable {
    let index: Int
    let kind: String
    let query: String
    let itemsToParse: String?
    /// Every jq leaf of the mappings, in program order, with its path (`properties.url`).
    let fields: [(path: String, source: String)]
    let template: EntityTemplate
    /// The program for one record that reports every failure per field (see `program`).
    let programSource: String
    /// The program for one record with no error handling at all: it either succeeds, and then
    /// every field had a first output, or fails, and then `programSource` runs to say why.
    let fastProgramSource: String
    /// The same two programs with the selector left out (`true`): which entity any record is.
    let identifyingProgramSource: String
    let identifyingFastProgramSource: String

    init(index: Int, resource: ResourceConfig) {
        self.index = index
        kind = resource.kind
        query = resource.query
        itemsToParse = resource.itemsToParse
        var fields: [(path: String, source: String)] = []
        template = ResourcePlan.template(for: resource.mappings, fields: &fields)
        self.fields = fields
        programSource = ResourcePlan.program(resource: resource, fields: fields)
        fastProgramSource = ResourcePlan.fastProgram(resource: resource, fields: fields, template: template)
        var everyRecord = resource
        everyRecord.query = "true"
        identifyingProgramSource = ResourcePlan.program(resource: everyRecord, fields: fields)
        identifyingFastProgramSource = ResourcePlan.fastProgram(resource: everyRecord, fields: fields, template: template)
    }

    /// Compiles the program; when it fails, compiles each expression alone to say which ones fail.
    func check(options: JQDialect.Options) -> [MappingIssue] {
        var issues: [MappingIssue] = []
        var expressions: [(field: String, source: String)] = [("selector.query", query)]
        if let itemsToParse { expressions.append(("port.itemsToParse", itemsToParse)) }
        expressions += fields.map { (field: $0.path, source: $0.source) }
        // Text that is not jq at all is named as such, not as a syntax error.
        for expression in expressions {
            if let reason = JQProgram.notJQReason(expression.source) {
                issues.append(issue(expression.field, JQError(.notJQ, reason)))
            }
        }
        guard issues.isEmpty else { return issues }
        do {
            _ = try JQProgram(programSource, options: options)
            _ = try JQProgram(fastProgramSource, options: options)
            return []
        } catch {
            for expression in expressions {
                do {
                    _ = try JQProgram(expression.source, options: options)
                } catch let fieldError {
                    issues.append(issue(expression.field, fieldError))
                }
            }
            if issues.isEmpty {
                issues.append(issue("port.entity.mappings", error))
            }
            return issues
        }
    }

    private func issue(_ field: String, _ error: JQError) -> MappingIssue {
        MappingIssue(resourceIndex: index, kind: kind, field: field, code: error.code, message: error.message)
    }

    /// The entity's fields in Port's order, then any others; `properties` and `relations` always.
    private static let entityOrder = ["identifier", "title", "blueprint", "team", "icon", "properties", "relations"]

    private static func template(for mappings: JSONObject, fields: inout [(path: String, source: String)]) -> EntityTemplate {
        var members: [(key: String, value: EntityTemplate)] = []
        let ordered = entityOrder.filter { mappings[$0] != nil } + mappings.keys.filter { !entityOrder.contains($0) }
        for key in ordered {
            members.append((key, template(for: mappings[key]!, path: key, fields: &fields)))
        }
        for key in ["properties", "relations"] where mappings[key] == nil {
            members.append((key, .object([])))
        }
        return .object(members)
    }

    private static func template(for value: JSON, path: String, fields: inout [(path: String, source: String)]) -> EntityTemplate {
        switch value {
        case .object(let object):
            return .object(object.map { (key: $0.key, value: template(for: $0.value, path: "\(path).\($0.key)", fields: &fields)) })
        case .array(let elements):
            return .array(elements.enumerated().map { template(for: $0.element, path: "\(path)[\($0.offset)]", fields: &fields) })
        case .string(let source):
            fields.append((path, source))
            return .field(fields.count - 1)
        case .null, .bool, .number:
            // The config reader refuses these; keep the template total anyway.
            fields.append((path, value.jsonText))
            return .field(fields.count - 1)
        }
    }

    /// One program per record. Every user expression runs inside `__ocean_f`, which gives an
    /// `ExpressionOutcome` (first output, error message, or none), so one failing field never stops
    /// the others. Its outputs are `MappingOutput`s; with itemsToParse each ends with the item's index. (User text sits on lines of its own: a trailing `# comment` must not swallow
    /// the wrapper.)
    /// The fast path, run on every record. A field's first output is bound with `as` (jq binds
    /// lazily, and the caller takes only the first result, so later outputs are never computed); the
    /// entity is built in jq. Any error, a field with no output, or a selector that is not a boolean
    /// makes the whole run fail, and the caller then runs the reporting program on that record.
    /// (Wrapping each field in `try` costs about 3 microseconds a field in jq 1.6: more than the
    /// field itself; so the reporting program runs only where something went wrong.)
    /// Outputs: `[0, entity]` or `[1, null]` (filtered out), with the item's index last under itemsToParse.
    static func fastProgram(resource: ResourceConfig, fields: [(path: String, source: String)], template: EntityTemplate) -> String {
        var text = "def __ocean_fast: (\n\(resource.query)\n) as $__ocean_s | if $__ocean_s == true then "
        for (index, field) in fields.enumerated() {
            text += "(\n\(field.source)\n) as $__ocean_v\(index) | "
        }
        text += "[\(MappingOutput.mapped.jq), \(entityExpression(template))] elif $__ocean_s == false then [\(MappingOutput.filteredOut.jq), null] "
        text += #"else error("__ocean_selector") end; "#
        let one = #"(first(__ocean_fast) // error("__ocean_no_output"))"#
        guard let items = resource.itemsToParse else { return text + one }
        let name = JSON.string(resource.itemsToParseName).jsonText
        text += ". as $__ocean_raw | (\n\(items)\n) as $__ocean_items "
        text += #"| if ($__ocean_items | type) != "array" then error("__ocean_items") else "#
        text += "\(itemsBase(resource, items)) as $__ocean_base | range(0; $__ocean_items | length) as $__ocean_i "
        text += "| ($__ocean_base + {\(name): $__ocean_items[$__ocean_i]}) | \(one) + [$__ocean_i] end"
        return text
    }

    /// The jq object (or array) built from the bound field values.
    private static func entityExpression(_ template: EntityTemplate) -> String {
        switch template {
        case .field(let index):
            return "$__ocean_v\(index)"
        case .object(let members):
            return "{" + members.map { "\(JSON.string($0.key).jsonText): \(entityExpression($0.value))" }.joined(separator: ", ") + "}"
        case .array(let elements):
            return "[" + elements.map(entityExpression).joined(separator: ", ") + "]"
        }
    }

    /// The parent record under itemsToParse: without the array when it is a plain path.
    private static func itemsBase(_ resource: ResourceConfig, _ items: String) -> String {
        guard resource.itemsToParseTopLevelTransform && items.isPlainPath else { return "$__ocean_raw" }
        return "([try ($__ocean_raw | del(\n\(items)\n)) catch $__ocean_raw] | .[0])"
    }

    static func program(resource: ResourceConfig, fields: [(path: String, source: String)]) -> String {
        func wrapped(_ source: String) -> String { "__ocean_f(\n\(source)\n)" }
        let (value, error, none) = (ExpressionOutcome.value.jq, ExpressionOutcome.error.jq, ExpressionOutcome.noOutput.jq)
        var text = "def __ocean_f(f): [try (label $__ocean_out | f | [\(value), .], break $__ocean_out) catch [\(error), .]] | if length == 0 then [\(none)] else .[0] end; "
        text += "def __ocean_entity: [" + fields.map { wrapped($0.source) }.joined(separator: ", ") + "]; "
        text += "def __ocean_one: " + wrapped(resource.query)
        text += " as $__ocean_s | if $__ocean_s == [\(value), true] then [\(MappingOutput.mapped.jq), __ocean_entity] "
        text += #"elif $__ocean_s[0] == \#(value) and ($__ocean_s[1] | type) == "boolean" then [\#(MappingOutput.filteredOut.jq), null] "#
        text += "else [\(MappingOutput.selectorProblem.jq), $__ocean_s] end; "
        guard let items = resource.itemsToParse else { return text + "__ocean_one" }
        let name = JSON.string(resource.itemsToParseName).jsonText
        let base = itemsBase(resource, items)
        text += ". as $__ocean_raw | " + wrapped(items) + " as $__ocean_items | "
        text += "if $__ocean_items[0] != \(value) then [\(MappingOutput.itemsFailed.jq), $__ocean_items] "
        text += #"elif ($__ocean_items[1] | type) != "array" then [\#(MappingOutput.itemsNotArray.jq), ($__ocean_items[1] | type)] "#
        text += "else \(base) as $__ocean_base | range(0; $__ocean_items[1] | length) as $__ocean_i "
        text += "| ($__ocean_base + {\(name): $__ocean_items[1][$__ocean_i]}) | __ocean_one + [$__ocean_i] end"
        return text
    }
}

extension String {
    /// A jq path made only of field accesses: `.a.b`, `.["a b"]`, `."c"` (what `del` can remove).
    var isPlainPath: Bool {
        let text = trimmingWhitespace()
        guard text.hasPrefix(".") else { return false }
        var index = text.startIndex
        var sawStep = false
        while index < text.endIndex {
            guard text[index] == "." else { return false }
            index = text.index(after: index)
            if index < text.endIndex, text[index] == "[" {
                index = text.index(after: index)
                guard index < text.endIndex, text[index] == "\"", let end = text.closingQuote(after: index) else { return false }
                index = text.index(after: end)
                guard index < text.endIndex, text[index] == "]" else { return false }
                index = text.index(after: index)
            } else if index < text.endIndex, text[index] == "\"" {
                guard let end = text.closingQuote(after: index) else { return false }
                index = text.index(after: end)
            } else {
                let start = index
                while index < text.endIndex, text[index] == "_" || (text[index].isASCII && (text[index].isLetter || text[index].isNumber)) {
                    index = text.index(after: index)
                }
                guard index > start, !text[start].isNumber else { return false }
            }
            sawStep = true
        }
        return sawStep
    }

    /// The index of the `"` closing the string literal that opens at `open`.
    private func closingQuote(after open: Index) -> Index? {
        var index = self.index(after: open)
        while index < endIndex {
            if self[index] == "\\" {
                index = self.index(after: index)
                guard index < endIndex, self[index] != "(" else { return nil }
            } else if self[index] == "\"" {
                return index
            }
            index = self.index(after: index)
        }
        return nil
    }
}

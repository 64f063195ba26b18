import Foundation
import Testing
import Yams

/// The documentation says what the code does: listings are the files they show, and the API
/// reference pages carry tables generated from `openapi.yaml` (regenerate with
/// `OCEAN_UPDATE_DOCS=1 make test`, then review the diff).
@Suite("docs match the code and openapi.yaml")
struct DocsTests {
    static let root = OpenAPISpecTests.repositoryRoot

    static func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    static var pages: [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }

    @Test("every `<!-- file: PATH -->` listing is exactly that file")
    func listings() throws {
        var checked = 0
        for page in Self.pages {
            let lines = try Self.read(page).components(separatedBy: "\n")
            for (index, line) in lines.enumerated() where line.hasPrefix("<!-- file: ") {
                let path = line.dropFirst("<!-- file: ".count).replacingOccurrences(of: " -->", with: "")
                #expect(lines[index + 1].hasPrefix("```"), "\(page): the listing of \(path) must follow its marker")
                let end = try #require(lines[(index + 2)...].firstIndex { $0 == "```" })
                let listing = lines[(index + 2)..<end].joined(separator: "\n") + "\n"
                #expect(listing == (try Self.read(path)), "\(page): the listing of \(path) differs from the file")
                checked += 1
            }
        }
        #expect(checked >= 3)
    }

    @Test("the API reference tables are generated from openapi.yaml")
    func referenceTables() throws {
        let spec = try OpenAPIDocument(text: Self.read("openapi.yaml"))
        var checked = 0
        for page in Self.pages {
            let text = try Self.read(page)
            guard let start = text.range(of: "<!-- generated from openapi.yaml: "),
                  let headerEnd = text[start.upperBound...].range(of: " -->\n"),
                  let end = text.range(of: "<!-- end generated -->") else { continue }
            let request = String(text[start.upperBound..<headerEnd.lowerBound])
            let generated = try spec.reference(request)
            let current = String(text[headerEnd.upperBound..<end.lowerBound])
            if current != generated, ProcessInfo.processInfo.environment["OCEAN_UPDATE_DOCS"] == "1" {
                let updated = text.replacingCharacters(in: headerEnd.upperBound..<end.lowerBound, with: generated)
                try updated.write(to: Self.root.appendingPathComponent(page), atomically: true, encoding: .utf8)
            } else {
                #expect(current == generated, "\(page) is out of date with openapi.yaml; run OCEAN_UPDATE_DOCS=1 make test")
            }
            checked += 1
        }
        #expect(checked == 2)
    }
}

/// The parts of `openapi.yaml` the reference pages show, in document order.
struct OpenAPIDocument {
    let root: Node

    init(text: String) throws {
        root = try #require(try Yams.compose(yaml: text))
    }

    /// `operations tagged a, b; schemas X, Y` → the Markdown tables.
    func reference(_ request: String) throws -> String {
        var tags: [String] = []
        var schemas: [String] = []
        for part in request.split(separator: ";") {
            let words = part.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            if words.starts(with: ["operations", "tagged"]) { tags = Array(words.dropFirst(2)) }
            if words.first == "schemas" { schemas = Array(words.dropFirst()) }
        }
        var output = "\n### Routes\n\n| route | what it does | answers |\n| --- | --- | --- |\n"
        var parameters = ""
        for (pathNode, item) in root["paths"]?.mapping ?? [:] {
            let path = pathNode.string ?? ""
            for (methodNode, operation) in item.mapping ?? [:] {
                let operationTags = operation["tags"]?.sequence?.compactMap(\.string) ?? []
                guard operationTags.contains(where: tags.contains) else { continue }
                let route = "`\(methodNode.string!.uppercased()) \(path)`"
                let answers = (operation["responses"]?.mapping ?? [:]).compactMap(\.key.string).joined(separator: ", ")
                output += "| \(route) | \(Self.cell(operation["summary"]?.string)) | \(answers) |\n"
                for parameter in operation["parameters"]?.sequence ?? [] {
                    let resolved = resolve(parameter)
                    guard resolved["in"]?.string == "query" else { continue }
                    parameters += "| \(route) | `\(resolved["name"]?.string ?? "")` | \(type(of: resolved["schema"])) | \(Self.cell(resolved["description"]?.string)) |\n"
                }
            }
        }
        if !parameters.isEmpty {
            output += "\n### Query parameters\n\n| route | parameter | type | meaning |\n| --- | --- | --- | --- |\n" + parameters
        }
        for name in schemas {
            let schema = try #require(root["components"]?["schemas"]?[name], "no schema \(name)")
            output += "\n### `\(name)`\n\n| field | type | meaning |\n| --- | --- | --- |\n"
            let required = Set(schema["required"]?.sequence?.compactMap(\.string) ?? [])
            for (field, property) in schema["properties"]?.mapping ?? [:] {
                let fieldName = field.string ?? ""
                output += "| `\(fieldName)`\(required.contains(fieldName) ? "" : " (optional)") | \(type(of: property)) | \(Self.cell(property["description"]?.string)) |\n"
            }
        }
        return output + "\n"
    }

    /// A schema's type as a reader wants it: `string or null`, `array of ResourceProgress`, an enum's values.
    private func type(of schema: Node?) -> String {
        guard let schema else { return "" }
        if let reference = schema["$ref"]?.string {
            let name = String(reference.split(separator: "/").last ?? "")
            let target = resolve(schema)
            if let values = target["enum"]?.sequence?.compactMap(\.string) { return values.map { "`\($0)`" }.joined(separator: ", ") }
            return "`\(name)`"
        }
        if let values = schema["enum"]?.sequence?.compactMap(\.string) { return values.map { "`\($0)`" }.joined(separator: ", ") }
        if let const = schema["const"]?.string { return "`\(const)`" }
        var kinds = schema["type"]?.sequence?.compactMap(\.string) ?? [schema["type"]?.string].compactMap { $0 }
        if kinds.first == "array" { kinds[0] = "array of " + type(of: schema["items"]) }
        if let minimum = schema["minimum"]?.int, let maximum = schema["maximum"]?.int { kinds[0] += " \(minimum)–\(maximum)" }
        if let defaultValue = schema["default"]?.string { kinds[0] += ", default \(defaultValue)" }
        return kinds.isEmpty ? "any" : kinds.joined(separator: " or ")
    }

    /// Follows a `$ref` within the document.
    private func resolve(_ node: Node) -> Node {
        guard let reference = node["$ref"]?.string, reference.hasPrefix("#/") else { return node }
        var current = root
        for part in reference.dropFirst(2).split(separator: "/") { current = current[String(part)] ?? current }
        return current
    }

    private static func cell(_ text: String?) -> String {
        (text ?? "").split(whereSeparator: \.isNewline).joined(separator: " ").replacingOccurrences(of: "|", with: "\\|")
    }
}

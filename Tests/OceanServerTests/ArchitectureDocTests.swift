import Foundation
import Testing

/// `docs/architecture.md` draws the target graph of `Package.swift`: every target outside `Tests/`
/// with its dependencies on the package's own targets, no more and no less.
@Suite("the architecture page matches Package.swift")
struct ArchitectureDocTests {
    struct Edge: Hashable, CustomStringConvertible {
        let from: String
        let to: String
        var description: String { "\(from) --> \(to)" }
    }

    /// The package's own dependencies of each target not under `Tests/`, read from the manifest's text.
    static func manifestEdges() throws -> Set<Edge> {
        let manifest = try String(contentsOf: DocsTests.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let targets = try #require(manifest.range(of: "targets: [")).upperBound
        var edges = Set<Edge>()
        let declarations = manifest[targets...].components(separatedBy: "\n        .").dropFirst()
        for declaration in declarations where !declaration.hasPrefix("testTarget(") {
            guard let name = Self.firstQuoted(after: "name: ", in: declaration) else { continue }
            if let path = Self.firstQuoted(after: "path: ", in: declaration), path.hasPrefix("Tests") { continue }
            guard let start = declaration.range(of: "dependencies: [") else { continue }
            var depth = 1
            var index = start.upperBound
            while depth > 0, index < declaration.endIndex {
                if declaration[index] == "[" { depth += 1 } else if declaration[index] == "]" { depth -= 1 }
                index = declaration.index(after: index)
            }
            var list = String(declaration[start.upperBound..<index])
            // Other packages' products are not part of the picture.
            while let product = list.range(of: #"\.product\([^)]*\)"#, options: .regularExpression) {
                list.removeSubrange(product)
            }
            for dependency in list.split(separator: "\"", omittingEmptySubsequences: false).enumerated() where dependency.offset % 2 == 1 {
                edges.insert(Edge(from: name, to: String(dependency.element)))
            }
        }
        return edges
    }

    /// The edges of the page's mermaid diagram (`A --> B`, `a_b["a-b"] --> B`: a label names the node).
    static func diagramEdges() throws -> Set<Edge> {
        let page = try DocsTests.read("docs/architecture.md")
        let start = try #require(page.range(of: "```mermaid\n")).upperBound
        let end = try #require(page[start...].range(of: "```")).lowerBound
        var labels: [String: String] = [:]
        var raw: [(String, String)] = []
        for line in page[start..<end].split(separator: "\n") {
            let sides = line.components(separatedBy: " --> ")
            guard sides.count == 2 else { continue }
            func node(_ text: String) -> String {
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                guard let open = trimmed.range(of: "[\"") else { return trimmed }
                let id = String(trimmed[..<open.lowerBound])
                labels[id] = String(trimmed[open.upperBound...].dropLast(2))
                return id
            }
            raw.append((node(sides[0]), node(sides[1])))
        }
        return Set(raw.map { Edge(from: labels[$0.0] ?? $0.0, to: labels[$0.1] ?? $0.1) })
    }

    static func firstQuoted(after marker: String, in text: String) -> String? {
        guard let start = text.range(of: marker + "\"") else { return nil }
        guard let end = text[start.upperBound...].firstIndex(of: "\"") else { return nil }
        return String(text[start.upperBound..<end])
    }

    @Test("the diagram's arrows are exactly the manifest's dependencies")
    func sameGraph() throws {
        let manifest = try Self.manifestEdges()
        let diagram = try Self.diagramEdges()
        #expect(manifest.count > 20)
        #expect(manifest.subtracting(diagram).isEmpty, "missing from docs/architecture.md: \(manifest.subtracting(diagram).sorted { $0.description < $1.description })")
        #expect(diagram.subtracting(manifest).isEmpty, "in docs/architecture.md but not in Package.swift: \(diagram.subtracting(manifest).sorted { $0.description < $1.description })")
    }

    @Test("an integration's target depends on the author kit alone")
    func examplesImportTheKitOnly() throws {
        let manifest = try Self.manifestEdges()
        #expect(manifest.filter { $0.from == "ExampleIntegrations" } == [Edge(from: "ExampleIntegrations", to: "OceanKit")])
        #expect(!manifest.contains { $0.from == "OceanServer" && $0.to == "OceanIntegrations" })
        for file in ["Examples/ExampleIntegrations/Jira/JiraIntegration.swift", "Examples/ExampleIntegrations/Octopus/OctopusIntegration.swift"] {
            let imports = try DocsTests.read(file).split(separator: "\n").filter { $0.hasPrefix("import ") || $0.hasPrefix("public import ") }
            #expect(imports.allSatisfy { $0.hasSuffix(" OceanKit") || $0.hasSuffix(" Foundation") }, "\(file): \(imports)")
        }
    }
}

import Foundation
import Testing
import TestSupport

/// deploy/: the YAML lints, and every setting the files give is one the binary reads.
@Suite("Deployment files")
struct DeployFilesTests {
    static let root = OpenAPISpecTests.repositoryRoot
    static let deploy = root.appendingPathComponent("deploy")

    static func files(under folder: URL) -> [URL] {
        let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
        return (enumerator?.allObjects as? [URL] ?? []).filter { !$0.hasDirectoryPath }
    }

    @Test("the plain YAML files lint (yamllint, installed by make test)")
    func lint() async throws {
        let targets = ["kubernetes", "docker-compose.yaml", "helm/swift-ocean/Chart.yaml", "helm/swift-ocean/values.yaml"]
            .map { Self.deploy.appendingPathComponent($0).path }
        let lint = try await runTool("/usr/bin/env", ["python3", "-m", "yamllint", "-c", Self.deploy.appendingPathComponent(".yamllint").path] + targets)
        #expect(lint.status == 0, "yamllint: \(lint.output)")
    }

    @Test("every OCEAN__/APPLICATION__ variable the deploy files set is read by the binary")
    func variablesAreRead() throws {
        let sources = try Self.files(under: Self.root.appendingPathComponent("Sources")).filter { $0.pathExtension == "swift" }
            .map { try String(contentsOf: $0, encoding: .utf8) }.joined(separator: "\n")
        var names = Set<String>()
        let pattern = try NSRegularExpression(pattern: "\\b(OCEAN|APPLICATION)__[A-Z0-9][A-Z0-9_]*")
        for file in Self.files(under: Self.deploy) where file.pathExtension != "md" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                names.insert(String(text[Range(match.range, in: text)!]))
            }
        }
        #expect(names.count > 10)
        for name in names.sorted() {
            if name.hasPrefix("OCEAN__INTEGRATION__CONFIG__") {
                // Read by prefix: every integration setting.
                #expect(sources.contains("\"OCEAN__INTEGRATION__CONFIG__\""))
            } else {
                #expect(sources.contains("\"\(name)\""), "\(name) is set in deploy/ but the binary never reads it")
            }
        }
    }
}

extension DeployFilesTests {
    @Test("the Dockerfile copies every folder Package.swift builds from")
    func dockerfileCopiesSources() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let dockerfile = try String(contentsOf: Self.deploy.appendingPathComponent("Dockerfile"), encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: #"path: "([A-Za-z]+)/"#)
        var folders: Set<String> = ["Sources", "Tests"]
        for match in pattern.matches(in: manifest, range: NSRange(manifest.startIndex..., in: manifest)) {
            folders.insert(String(manifest[Range(match.range(at: 1), in: manifest)!]))
        }
        #expect(folders.contains("Examples"))
        for folder in folders.sorted() {
            #expect(dockerfile.contains("COPY \(folder) ./\(folder)"), "the Dockerfile does not copy \(folder)/, which Package.swift builds from")
        }
    }
}

extension DeployFilesTests {
    static let kubectl = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("the kustomization builds (kubectl kustomize, where kubectl is installed)", .enabled(if: kubectl != nil))
    func kustomize() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-kustomize-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.deploy.appendingPathComponent("kubernetes"), to: folder)
        try FileManager.default.copyItem(at: folder.appendingPathComponent("secret.env.example"), to: folder.appendingPathComponent("secret.env"))
        let built = try await runTool(Self.kubectl!, ["kustomize", folder.path])
        #expect(built.status == 0, "kubectl kustomize: \(built.output)")
        for kind in ["kind: Deployment", "kind: Service", "kind: Secret"] {
            #expect(built.output.contains(kind), "\(kind) missing from:\n\(built.output)")
        }
    }
}

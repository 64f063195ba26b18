import EventHTTP
import Foundation
import OceanServer
import Testing
import TestSupport
import Yams

/// `openapi.yaml` and the router must describe the same routes, and the document must be valid.
@Suite("openapi.yaml")
struct OpenAPISpecTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let specURL = repositoryRoot.appendingPathComponent("openapi.yaml")

    @Test("the spec's paths and methods are exactly the router's routes")
    func sameRoutes() async throws {
        let text = try String(contentsOf: Self.specURL, encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: Any])
        let methods = Set(HTTPMethod.allCases.map { $0.rawValue.lowercased() })
        var specRoutes = Set<String>()
        for (path, item) in paths {
            let operations = try #require(item as? [String: Any], "path item \(path)")
            for key in operations.keys where methods.contains(key) {
                specRoutes.insert("\(key.uppercased()) \(path)")
            }
        }
        // OpenAPI has no "rest of the path" parameter: `{path...}` is written `{path}` there.
        let service = try await TestService.start()
        defer { Task { await service.stop() } }
        let routerRoutes = Set(service.application.routeTable.map {
            "\($0.method.rawValue) \($0.pattern.replacingOccurrences(of: "...}", with: "}"))"
        })
        #expect(specRoutes == routerRoutes, "only in spec: \(specRoutes.subtracting(routerRoutes)); only in router: \(routerRoutes.subtracting(specRoutes))")
    }

    @Test("the document is valid OpenAPI 3.1 (openapi-spec-validator, installed by make test)")
    func validDocument() async throws {
        let (status, text) = try await runTool("/usr/bin/env", ["python3", "-m", "openapi_spec_validator", Self.specURL.path])
        #expect(status == 0, "openapi_spec_validator: \(text) (run `make test`, which installs it)")
    }
}

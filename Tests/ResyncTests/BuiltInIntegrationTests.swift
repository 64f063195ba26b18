import Foundation
import Logging
import OceanKit
import OceanEngine
import OceanCatalog
import OceanIntegrations
import Testing

@Suite("Built-in integrations")
struct BuiltInIntegrationTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/OceanIntegrations")

    @Test("each default mapping in code is the one in .port/resources, and it is valid", arguments: [
        ("Fake", FakeIntegration.defaultMapping), ("JSONLines", JSONLinesIntegration.defaultMapping),
    ])
    func defaultMappings(folder: String, inCode: String) throws {
        let file = try String(contentsOf: Self.sources.appendingPathComponent("\(folder)/.port/resources/port-app-config.yml"), encoding: .utf8)
        let withoutComments = file.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        #expect(try PortAppConfig.parse(withoutComments).config == PortAppConfig.parse(inCode).config)
        #expect(MappingPlan.build(try PortAppConfig.parse(inCode).config).issues.isEmpty)
    }

    @Test("each integration's blueprints in code are its .port/resources/blueprints.json, a JSON array of blueprints", arguments: [
        ("Fake", FakeIntegration.make()), ("JSONLines", JSONLinesIntegration.make()),
    ])
    func blueprints(folder: String, integration: OceanIntegration) throws {
        let file = try String(contentsOf: Self.sources.appendingPathComponent("\(folder)/.port/resources/blueprints.json"), encoding: .utf8)
        let inCode = try #require(integration.resources.blueprints)
        #expect(inCode == file)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(inCode.utf8)) as? [[String: Any]])
        #expect(!parsed.isEmpty && parsed.allSatisfy { $0["identifier"] is String })
    }

    @Test("each spec in code is the one in .port/spec.yaml, and it is valid", arguments: [
        ("Fake", FakeIntegration.spec), ("JSONLines", JSONLinesIntegration.spec),
    ])
    func specs(folder: String, inCode: String) throws {
        let file = try String(contentsOf: Self.sources.appendingPathComponent("\(folder)/.port/spec.yaml"), encoding: .utf8)
        #expect(file == inCode)
        #expect(try !IntegrationSpec.parse(inCode).settings.isEmpty)
    }

    /// Runs one resync of `integration` into a fresh catalog.
    func resync(_ integration: OceanIntegration, config: [String: String], mapping: String? = nil) async throws -> (Job, CatalogStore) {
        let catalog = try temporaryCatalog()
        let text = try #require(mapping ?? integration.defaultMapping)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let coordinator = ResyncCoordinator(
            integration: integration, integrationConfig: IntegrationConfig(config),
            mappingSource: FixedMapping(try PortAppConfig.parse(text).config), destination: .reconciling(catalog), store: catalog, pool: testPool,
            settings: .init(integrationIdentifier: integration.type), logger: logger)
        try await coordinator.start()
        let (job, _) = try await coordinator.request(.allKinds, trigger: .cli)
        return (try #require(await coordinator.waitUntilFinished(job.id)), catalog)
    }

    @Test("fake: deterministic records; a smaller amount gives a subset")
    func fakeDeterministic() async throws {
        let (big, bigCatalog) = try await resync(FakeIntegration.make(), config: ["entity_amount": "12", "third_party_batch_size": "5"])
        let (again, againCatalog) = try await resync(FakeIntegration.make(), config: ["entity_amount": "12", "third_party_batch_size": "5"])
        let (small, smallCatalog) = try await resync(FakeIntegration.make(), config: ["entity_amount": "4", "entity_kb_size": "2"])
        #expect(big.status == .succeeded && again.status == .succeeded && small.status == .succeeded)
        let bigPersons = try await bigCatalog.entities(blueprint: "fake-person", limit: 1000)
        let againPersons = try await againCatalog.entities(blueprint: "fake-person", limit: 1000)
        #expect(bigPersons.count == 60)
        #expect(bigPersons.map(Self.withoutTimestamp) == againPersons.map(Self.withoutTimestamp))
        let smallIDs = Set(try await smallCatalog.entities(blueprint: "fake-person", limit: 1000).map(Self.identifier))
        let bigIDs = Set(bigPersons.map(Self.identifier))
        #expect(smallIDs.count == 20)
        #expect(smallIDs.isSubset(of: bigIDs))
        #expect(smallIDs.contains("engineering-3"))
        #expect(try await smallCatalog.entityCount(blueprint: "fake-department") == 5)
    }

    @Test("fake: bad settings fail the kind with the variable's name")
    func fakeBadSettings() async throws {
        let (job, _) = try await resync(FakeIntegration.make(), config: ["entity_amount": "lots"])
        #expect(job.status == .partial)
        let person = try #require(job.progress.first { $0.kind == "fake-person" })
        #expect(person.error?.contains("OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT: must be a whole number") == true)
        #expect(job.progress.first { $0.kind == "fake-department" }?.status == .succeeded)
    }

    @Test("jsonl: each file is a kind, NDJSON or a JSON array, streamed in batches")
    func jsonLines() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("jsonl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lines = (0..<25).map { #"{"id":\#($0),"name":"line \#($0)"}"# }.joined(separator: "\n")
        try lines.write(to: folder.appendingPathComponent("items.jsonl"), atomically: true, encoding: .utf8)
        try #"[{"id":"t1","title":"Team one"}, {"id":"t2"}, "not an object"]"#.write(to: folder.appendingPathComponent("teams.json"), atomically: true, encoding: .utf8)
        let mapping = """
            resources:
              - kind: items
                selector: {query: 'true'}
                port: {entity: {mappings: {identifier: .id | tostring, title: .name, blueprint: '"item"'}}}
              - kind: teams
                selector: {query: 'true'}
                port: {entity: {mappings: {identifier: .id, title: .title, blueprint: '"team"'}}}
              - kind: missing
                selector: {query: 'true'}
                port: {entity: {mappings: {identifier: .id, blueprint: '"x"'}}}
            """
        let (job, catalog) = try await resync(JSONLinesIntegration.make(), config: ["path": folder.path, "batch_size": "10"], mapping: mapping)
        let byKind = Dictionary(uniqueKeysWithValues: job.progress.map { ($0.kind, $0) })
        #expect(byKind["items"]?.upserted == 25)
        #expect(byKind["teams"]?.upserted == 2)
        #expect(byKind["teams"]?.failed == 1)
        #expect(byKind["missing"]?.status == .failed)
        #expect(byKind["missing"]?.error?.contains("has no missing.jsonl or missing.json") == true)
        #expect(try await catalog.entityCount(blueprint: "item") == 25)
    }

    static func identifier(_ entity: String) -> String {
        ((try? JSONSerialization.jsonObject(with: Data(entity.utf8))) as? [String: Any])?["identifier"] as? String ?? ""
    }

    static func withoutTimestamp(_ entity: String) -> String {
        entity.replacingOccurrences(of: #""updatedAt":"[^"]*""#, with: "", options: .regularExpression)
    }
}

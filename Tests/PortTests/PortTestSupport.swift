import FakePort
import Foundation
import Logging
import OceanKit
import OceanEngine
import OceanCatalog
import OceanPort

/// A coordinator writing to a fake Port on loopback, its write log and job history in a temporary catalog.
struct PortHarness {
    let port: FakePort
    let client: PortClient
    let integration: PortIntegration
    let sink: PortSink
    let coordinator: ResyncCoordinator
    let pool: MappingPool
    let reporter: PortSyncReporter
    let running: Task<Void, Never>
    let reporting: Task<Void, Never>

    static func start(
        _ ocean: OceanIntegration, mapping: String, fake: FakePort = FakePort(), maxConcurrentRequests: Int = 8,
        requestTimeout: Duration = .seconds(10), retry: RetryPolicy = RetryPolicy(initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(100)),
        mappingFromPort: Bool = true, reporterSettings: PortSyncReporter.Settings = PortSyncReporter.Settings(),
        blueprintsExist: Bool = true, skipsUnchanged: Bool = false
    ) async throws -> PortHarness {
        try await fake.start()
        // The blueprints the mapping writes exist, as a user's organisation would have them.
        let config = try PortAppConfig.parse(mapping).config
        if blueprintsExist { await fake.seed(blueprints: config.resources.compactMap(MappingPlan.constantBlueprint(of:))) }
        var logger = Logger(label: "test.port")
        logger.logLevel = .critical
        let catalog = try CatalogStore(path: FileManager.default.temporaryDirectory
            .appendingPathComponent("port-test-\(UUID().uuidString)/catalog.sqlite").path)
        let client = PortClient(settings: PortSettings(
            clientID: fake.clientID, clientSecret: fake.clientSecret, baseURL: fake.baseURL, integrationType: ocean.type,
            integrationIdentifier: "test-integration", maxConcurrentRequests: maxConcurrentRequests, requestTimeout: requestTimeout,
            retryPolicy: retry), logger: logger)
        let integration = PortIntegration(client: client, logger: logger)
        let record = try await integration.ensureExists(defaultMappingText: mapping)
        var reporterSettings = reporterSettings
        reporterSettings.interval = reporterSettings.interval ?? .seconds(3600)
        let reporter = PortSyncReporter(client: client, settings: reporterSettings, logger: logger)
        reporter.useMetricsIngest(record.metricsIngestURL)
        let sink = PortSink(client: client, writeLog: catalog, logger: logger)
        let pool = MappingPool(workers: 2)
        let coordinator = ResyncCoordinator(
            integration: ocean, integrationConfig: IntegrationConfig(),
            mappingSource: mappingFromPort ? integration : FixedMapping(config), destination: .reconciling(sink), store: catalog,
            pool: pool, settings: .init(integrationIdentifier: "test-integration"), logger: logger,
            stateReporter: reporter, digests: skipsUnchanged ? catalog : nil)
        try await coordinator.prepare()
        let running = Task { await coordinator.run() }
        let reporting = Task { await reporter.run() }
        return PortHarness(port: fake, client: client, integration: integration, sink: sink, coordinator: coordinator,
                           pool: pool, reporter: reporter, running: running, reporting: reporting)
    }

    func run(_ scope: Job.Scope = .allKinds) async throws -> Job {
        let (job, _) = try await coordinator.request(scope, trigger: .http)
        guard let done = await coordinator.waitUntilFinished(job.id) else { throw TestFailure("job lost") }
        return done
    }

    /// Sends every report queued so far; none go out after it.
    func flushReports() async {
        reporter.finish()
        await reporting.value
    }

    func stop() async {
        await coordinator.shutdown()
        await running.value
        await flushReports()
        await pool.stop()
        await client.shutdown()
        await port.stop()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `count` records per kind, set per run; a kind can be made to fail.
final class CountingSource: Sendable {
    private let state: LockedState

    init(_ counts: [String: Int], bioBytes: Int = 100) {
        state = LockedState(counts: counts, bioBytes: bioBytes)
    }

    func set(_ kind: String, _ count: Int) { state.set(kind, count) }

    func integration() -> OceanIntegration {
        let ocean = OceanIntegration(type: "test")
        let state = self.state
        ocean.onResync { kind, _ in
            let (count, bio) = state.get(kind)
            return PagesOf(kind: kind, count: count, bio: String(repeating: "b", count: bio))
        }
        return ocean
    }
}

final class LockedState: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int]
    private let bioBytes: Int
    init(counts: [String: Int], bioBytes: Int) {
        self.counts = counts
        self.bioBytes = bioBytes
    }
    func set(_ kind: String, _ count: Int) { lock.withLock { counts[kind] = count } }
    func get(_ kind: String) -> (Int, Int) { lock.withLock { (counts[kind] ?? 0, bioBytes) } }
}

/// Records `{"id":"<kind>-<n>","name":..,"bio":..}` in pages of 100.
struct PagesOf: AsyncSequence, Sendable {
    typealias Element = [JSON]
    let kind: String
    let count: Int
    let bio: String

    func makeAsyncIterator() -> Iterator { Iterator(source: self) }

    struct Iterator: AsyncIteratorProtocol {
        let source: PagesOf
        var next = 0
        mutating func next() async -> [JSON]? {
            guard next < source.count else { return nil }
            let end = Swift.min(source.count, next + 100)
            defer { next = end }
            return (next..<end).map { .object(["id": .string("\(source.kind)-\($0)"), "name": .string("N\($0)"), "bio": .string(source.bio)]) }
        }
    }
}

func portMapping(_ kinds: [String], threshold: Double = 0.9) -> String {
    "entityDeletionThreshold: \(threshold)\nresources:\n" + kinds.map { kind in
        """
          - kind: \(kind)
            selector: {query: 'true'}
            port:
              entity:
                mappings:
                  identifier: .id
                  title: .name
                  blueprint: '"\(kind)"'
                  properties:
                    bio: .bio

        """
    }.joined()
}

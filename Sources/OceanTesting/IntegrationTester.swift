import Foundation
public import InMemoryLogging
import JQ
public import Logging
import OceanCatalog
public import OceanEngine
public import OceanKit

/// Runs an integration in-process the way the service does, for its tests: its settings checked
/// against its spec, its mapping compiled, resyncs through the real coordinator and webhook
/// deliveries through the real dispatcher, into an embedded catalog in a temporary folder.
///
/// ```swift
/// let tester = try await IntegrationTester(JiraIntegration.make(), config: ["jiraHost": api.url])
/// let run = try await tester.resync()
/// #expect(run.job.status == .succeeded)
/// #expect(run.entities(blueprint: "jiraProject").count == 120)
/// await tester.close()
/// ```
public final class IntegrationTester: Sendable {
    public let integration: OceanIntegration
    /// The integration's settings as its handlers see them (spec defaults filled in).
    public let integrationConfig: IntegrationConfig
    /// The mapping every resync and delivery uses.
    public let mapping: PortAppConfig
    /// Every line logged by the engine and the integration's handlers, with its metadata.
    public var logs: [InMemoryLogHandler.Entry] { logHandler.entries }

    private let catalog: CatalogStore
    private let folder: URL
    private let coordinator: ResyncCoordinator
    private let webhooks: WebhookDispatcher
    private let running: Task<Void, Never>
    private let logHandler: InMemoryLogHandler

    /// Checks `config` (the spec's names, in any spelling: `jiraHost` or `JIRA_HOST`) against the
    /// integration's spec and `mapping` (YAML or JSON; the integration's default when nil), runs
    /// the start hooks, and starts the engine.
    public init(
        _ integration: OceanIntegration, config: [String: String] = [:], mapping mappingText: String? = nil,
        logLevel: Logger.Level = .debug
    ) async throws(IntegrationTestError) {
        self.integration = integration
        var handler = InMemoryLogHandler()
        handler.logLevel = logLevel
        logHandler = handler
        let logger = Logger(label: "ocean.test", factory: { _ in handler })

        var spec = IntegrationSpec(type: integration.type, settings: [])
        if let text = integration.spec {
            do { spec = try IntegrationSpec.parse(text) } catch {
                throw IntegrationTestError(.invalidSpec, "the integration's spec is invalid: \(error)")
            }
        }
        let resolved = spec.resolve(config.mapValues { .init($0) })
        guard resolved.problems.isEmpty else {
            throw IntegrationTestError(.invalidConfig, resolved.problems.map(\.description).joined(separator: "; "))
        }
        integrationConfig = resolved.config

        guard let text = mappingText ?? integration.defaultMapping else {
            throw IntegrationTestError(.invalidMapping, "no mapping given and the integration has no default mapping")
        }
        do {
            mapping = try MappingPlan.checked(text).config
        } catch {
            switch error {
            case .invalid(let problems):
                throw IntegrationTestError(.invalidMapping, problems.map(\.description).joined(separator: "; "))
            case .doesNotCompile(let issues):
                throw IntegrationTestError(.invalidMapping, issues.map(\.description).joined(separator: "; "))
            }
        }

        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-testing-\(UUID().uuidString)")
        do {
            catalog = try CatalogStore(path: folder.appendingPathComponent("catalog.sqlite").path)
        } catch {
            throw IntegrationTestError(.engine, "the catalog could not be created: \(error)")
        }
        let source = FixedMapping(mapping)
        let recentChanges = RecentChanges()
        let pool = MappingPool(workers: 2)
        coordinator = ResyncCoordinator(
            integration: integration, integrationConfig: integrationConfig, mappingSource: source,
            destination: .reconciling(catalog), store: catalog, pool: pool,
            settings: .init(integrationIdentifier: integration.type), logger: logger, recentChanges: recentChanges)
        webhooks = WebhookDispatcher(
            integration: integration, integrationConfig: integrationConfig, mappingSource: source, sink: catalog,
            store: catalog, recentChanges: recentChanges, pool: pool,
            settings: .init(integrationIdentifier: integration.type), logger: logger)
        let coordinator = coordinator, webhooks = webhooks
        do {
            try await coordinator.prepare()
            try await webhooks.prepare()
        } catch {
            throw IntegrationTestError(.engine, "the engine could not start: \(error)")
        }
        // The engine's services run until `close()`, as a service group runs them.
        running = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await coordinator.run() }
                group.addTask { await webhooks.run() }
            }
            await pool.stop()
        }
        do {
            try await integration.runStartHooks(StartContext(integrationConfig: integrationConfig, baseURL: nil, logger: logger))
        } catch {
            await close()
            throw IntegrationTestError(.startFailed, "the integration failed to start: \(error)")
        }
    }

    /// Runs one resync job (every kind, or one) to its end.
    public func resync(_ scope: Job.Scope = .allKinds) async throws(IntegrationTestError) -> ResyncRun {
        let job: Job
        do {
            job = try await coordinator.request(scope, trigger: .cli).job
        } catch {
            throw IntegrationTestError(.requestRefused, error.message)
        }
        guard let finished = await coordinator.waitUntilFinished(job.id) else {
            throw IntegrationTestError(.engine, "the job \(job.id) was lost")
        }
        return ResyncRun(job: finished, entities: try await entities())
    }

    /// Delivers one webhook to `path` (as it arrives at `POST /integration<path>`) and waits until
    /// it is applied or has failed.
    public func deliver(
        path: String, headers: [(name: String, value: String)] = [], body: [UInt8],
        timeout: Duration = .seconds(30)
    ) async throws(IntegrationTestError) -> WebhookRun {
        let normalized = path.hasPrefix("/") ? path : "/" + path
        let acceptance: WebhookAcceptance
        do {
            acceptance = try await webhooks.accept(path: normalized, headers: headers, body: body)
        } catch {
            throw IntegrationTestError(.deliveryRefused, "\(error.code): \(error.message)")
        }
        guard !acceptance.ignored else { return WebhookRun(delivery: nil, entities: try await entities()) }
        // Applied in the dispatcher's run: watched until done or dead.
        let deadline = ContinuousClock.now + timeout
        while true {
            let delivery: Delivery?
            do { delivery = try await webhooks.delivery(acceptance.id) } catch {
                throw IntegrationTestError(.engine, "reading the delivery failed: \(error)")
            }
            if let delivery, delivery.status == .done || delivery.status == .dead {
                return WebhookRun(delivery: delivery, entities: try await entities())
            }
            guard ContinuousClock.now < deadline else {
                throw IntegrationTestError(.timedOut, "delivery \(acceptance.id) was not applied within \(timeout) (\(delivery?.lastError ?? "no error yet"))")
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Delivers a JSON body (see `deliver(path:headers:body:)`).
    public func deliver(
        path: String, headers: [(name: String, value: String)] = [], json: JSON, timeout: Duration = .seconds(30)
    ) async throws(IntegrationTestError) -> WebhookRun {
        var body: [UInt8] = []
        json.write(to: &body)
        return try await deliver(path: path, headers: headers, body: body, timeout: timeout)
    }

    /// Every entity in the catalog now, each as Port holds it (`identifier`, `title`, `blueprint`,
    /// `properties`, `relations`).
    public func entities() async throws(IntegrationTestError) -> [JSON] {
        do {
            return try await catalog.entities(blueprint: nil, limit: Int.max).map { text in
                try JSONDecoder().decode(JSON.self, from: Data(text.utf8))
            }
        } catch {
            throw IntegrationTestError(.engine, "reading the catalog failed: \(error)")
        }
    }

    /// A tester dropped without `close()` still stops its engine (its catalog folder stays).
    deinit {
        running.cancel()
    }

    /// Stops the engine and removes the temporary catalog.
    public func close() async {
        running.cancel()
        await running.value
        try? FileManager.default.removeItem(at: folder)
    }
}

/// What one resync did: the finished job and the entities in the catalog after it.
public struct ResyncRun: Sendable {
    public let job: Job
    public let entities: [JSON]

    /// The entities of one blueprint.
    public func entities(blueprint: String) -> [JSON] {
        entities.filter { $0["blueprint"]?.stringValue == blueprint }
    }
}

/// What one webhook delivery did: the stored delivery once settled (nil when no processor wanted
/// it) and the entities in the catalog after it.
public struct WebhookRun: Sendable {
    public let delivery: Delivery?
    public let entities: [JSON]

    /// The entities of one blueprint.
    public func entities(blueprint: String) -> [JSON] {
        entities.filter { $0["blueprint"]?.stringValue == blueprint }
    }
}

import Essentials
public import EventHTTP
import Foundation
import JQ
public import Logging
public import OceanKit
public import OceanEngine
public import OceanCatalog
import OceanPort
import ServiceLifecycle

/// The whole service, assembled from its settings: what `ocean serve` and `ocean resync` run.
public struct OceanApplication: Sendable {
    public let settings: ServiceSettings
    public let readiness = Readiness()
    public let server: HTTPServer
    public let coordinator: ResyncCoordinator
    public let webhooks: WebhookDispatcher
    /// The mapping threads jobs and webhook deliveries share.
    public let mappingPool: MappingPool
    public let catalog: CatalogStore
    public let integration: OceanIntegration
    /// The Prometheus registry `GET /metrics` shows.
    public let metrics: ServiceMetrics
    /// The routes the server serves (for comparing with `openapi.yaml`).
    public let routeTable: [(method: HTTPMethod, pattern: String)]
    private let logger: Logger
    /// Port, when it is the destination.
    private let port: PortIntegration?
    private let defaultMapping: PortAppConfig?

    /// Builds everything; every problem that would stop a start is reported here, with the setting
    /// or file to fix.
    ///
    /// `integrations` is what the binary holds; `settings.integrationType` picks one of them.
    public init(settings: ServiceSettings, integrations: IntegrationChoice, logger: Logger) throws(StartupError) {
        guard let integration = integrations.integration(type: settings.integrationType) else {
            throw StartupError("OCEAN__INTEGRATION__TYPE " + integrations.unknownTypeMessage(settings.integrationType))
        }
        try self.init(settings: settings, integration: integration, logger: logger)
    }

    /// Builds everything around `integration`.
    public init(settings: ServiceSettings, integration: OceanIntegration, logger: Logger) throws(StartupError) {
        self.settings = settings
        self.logger = logger
        JQProgram.setTimeLimit(settings.jqTimeLimit)
        metrics = ServiceMetrics(enabled: settings.metricsEnabled)
        self.integration = integration
        let mapping = try Self.loadMapping(settings: settings, integration: integration, logger: logger)
        defaultMapping = mapping
        do {
            catalog = try CatalogStore(path: settings.catalogPath)
        } catch {
            throw StartupError("\(error) (OCEAN__CATALOG__PATH)")
        }
        let sink: any ReconcilingSink
        let mappingSource: any MappingSource
        if let destination = settings.port {
            let client = PortClient(settings: PortSettings(
                clientID: destination.clientID, clientSecret: destination.clientSecret, baseURL: destination.baseURL,
                integrationType: integration.type, integrationIdentifier: settings.integrationIdentifier,
                integrationVersion: SwiftOcean.reportedVersion(of: integration.version),
                maxConcurrentRequests: destination.maxConcurrentRequests, requestTimeout: destination.timeout), logger: logger)
            let port = PortIntegration(client: client, interval: settings.scheduledResyncInterval, logger: logger)
            self.port = port
            sink = PortSink(client: client, writeLog: catalog, logger: logger)
            // A local mapping file wins; otherwise each job reads the mapping from Port.
            mappingSource = settings.mappingPath == nil ? port : FixedMapping(mapping)
        } else {
            port = nil
            sink = catalog
            mappingSource = FixedMapping(mapping)
        }
        let recentChanges = RecentChanges()
        let redactor = SecretRedactor(settings.secrets)
        let engineMetrics = EngineMetrics(factory: metrics.factory)
        let pool = MappingPool(workers: settings.mappingWorkers, options: .init(allowEnvironmentAccess: settings.allowEnvironmentInJQ))
        mappingPool = pool
        webhooks = WebhookDispatcher(
            integration: integration, integrationConfig: settings.integrationConfig, mappingSource: mappingSource, sink: sink,
            store: catalog, recentChanges: recentChanges, pool: pool,
            settings: .init(maxQueued: settings.webhookMaxQueued, integrationIdentifier: settings.integrationIdentifier,
                            metrics: engineMetrics, redactor: redactor),
            logger: logger)
        coordinator = ResyncCoordinator(
            integration: integration, integrationConfig: settings.integrationConfig, mappingSource: mappingSource,
            destination: .reconciling(sink), store: catalog, pool: pool,
            settings: .init(integrationIdentifier: settings.integrationIdentifier,
                            maxConcurrentResources: settings.maxConcurrentResources, historyLimit: settings.jobHistoryLimit,
                            metrics: engineMetrics, redactor: redactor),
            logger: logger, stateReporter: port, recentChanges: recentChanges)
        let authorization = BearerAuthorization(token: settings.apiToken)
        let resyncRoutes = ResyncRoutes(coordinator: coordinator, catalog: settings.port == nil ? catalog : nil,
                                        authorization: authorization, resyncsEnabled: settings.eventListener != .webhooksOnly)
        let webhookRoutes = WebhookRoutes(dispatcher: webhooks, authorization: authorization, maxBodySize: settings.webhookMaxBodySize)
        let router = Router(OceanRoutes.make(readiness: readiness, resync: resyncRoutes, webhooks: webhookRoutes, metrics: metrics))
        routeTable = router.table
        server = HTTPServer(configuration: settings.http, router: router, logger: logger, metrics: metrics.factory)
    }

    /// The mapping file given, else the integration's default; checked completely (every
    /// expression compiled) so a broken mapping stops the start instead of every job.
    private static func loadMapping(settings: ServiceSettings, integration: OceanIntegration, logger: Logger) throws(StartupError) -> PortAppConfig {
        let text: String
        let origin: String
        if let path = settings.mappingPath {
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw StartupError("cannot read the mapping \(path) (--mapping, OCEAN__MAPPING__PATH): \(error.localizedDescription)")
            }
            origin = path
        } else if let defaultMapping = integration.defaultMapping {
            text = defaultMapping
            origin = "the \(integration.type) integration's default mapping"
        } else {
            throw StartupError("the \(integration.type) integration has no default mapping: give one with --mapping (OCEAN__MAPPING__PATH)")
        }
        do {
            let checked = try MappingPlan.checked(text, options: .init(allowEnvironmentAccess: settings.allowEnvironmentInJQ))
            for warning in checked.warnings {
                logger.warning("mapping warning", metadata: ["mapping": "\(origin)", "warning": "\(warning)"])
            }
            return checked.config
        } catch {
            switch error {
            case .invalid(let problems):
                throw StartupError("the mapping (\(origin)) is invalid:\n" + problems.map { "  \($0)" }.joined(separator: "\n"))
            case .doesNotCompile(let issues):
                throw StartupError("the mapping (\(origin)) has expressions that do not compile:\n" + issues.map { "  \($0)" }.joined(separator: "\n"))
            }
        }
    }

    /// Creates the integration in Port when needed, loads the job history and runs the
    /// integration's start hooks.
    public func prepare() async throws(StartupError) {
        if let port {
            do {
                try await port.ensureExists(defaultMapping: defaultMapping, defaultMappingText: settings.mappingPath == nil ? integration.defaultMapping : nil)
            } catch {
                await close()
                throw StartupError("cannot reach Port at \(settings.port?.baseURL ?? ""): \(error)")
            }
        }
        do {
            try await coordinator.prepare()
        } catch {
            await close()
            throw StartupError("cannot read the job history from \(settings.catalogPath): \(error)")
        }
        do {
            try await webhooks.prepare()
        } catch {
            await close()
            throw StartupError("cannot read the webhook queue from \(settings.catalogPath): \(error)")
        }
        if settings.baseURL == nil {
            logger.info("OCEAN__BASE_URL is unset: integrations will not register webhooks")
        }
        do {
            try await integration.runStartHooks(StartContext(
                integrationConfig: settings.integrationConfig, baseURL: settings.baseURL, logger: logger))
        } catch {
            await close()
            throw StartupError("the \(integration.type) integration failed to start: \(error)")
        }
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully and returns.
    public func run() async throws {
        try await prepare()
        let triggers = ResyncTriggers(coordinator: coordinator, settings: settings, logger: logger)
        let http = HTTPService(server: server, readiness: readiness, logger: logger)
        let storage = StorageWatch(catalog: catalog, readiness: readiness, interval: .seconds(2), logger: logger)
        // A graceful shutdown stops them in reverse: the front door first, the mapping threads last.
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: mappingPool, successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: storage, successTerminationBehavior: .ignore),
                .init(service: coordinator, successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: webhooks, successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: triggers, successTerminationBehavior: .ignore),
                .init(service: http, successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            await close()
            throw error
        }
        await close()
    }

    /// Stops applying webhook deliveries (pending ones stay stored), ends the mapping threads and
    /// releases the connections to Port (after `run`/`runOnce`).
    public func close() async {
        await webhooks.stop()
        await coordinator.shutdown()
        await mappingPool.stop()
        await port?.client.shutdown()
    }

    /// Runs one job in-process (`ocean resync`, `OCEAN__EVENT_LISTENER__TYPE=ONCE`) and returns it
    /// when it has finished. `progress` is called with the job about every `interval`.
    public func runOnce(
        _ scope: Job.Scope, progressInterval: Duration = .milliseconds(200), progress: @escaping @Sendable (Job) -> Void = { _ in }
    ) async throws -> Job {
        try await prepare()
        let coordinator = coordinator
        let (job, _) = try await coordinator.request(scope, trigger: .cli)
        // Cancelling this task cancels the coordinator's run, which then cancels the job.
        let finished = await withDiscardingTaskGroup { group -> Job? in
            group.addTask { await coordinator.run() }
            group.addTask {
                while !Task.isCancelled {
                    if let current = await coordinator.job(job.id) { progress(current) }
                    try? await Task.sleep(for: progressInterval)
                }
            }
            let finished = await coordinator.waitUntilFinished(job.id)
            group.cancelAll()
            return finished
        }
        guard let finished else { throw StartupError("the job \(job.id) was lost") }
        progress(finished)
        return finished
    }
}

/// Why the service could not start: a message naming what to fix.
public struct StartupError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

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
    let logger: Logger
    /// Port, when it is the destination.
    let port: PortParts?
    private let defaultMapping: PortAppConfig?
    private let startSteps: StartSteps
    private let redactor: SecretRedactor

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
    public init(settings: ServiceSettings, integration: OceanIntegration, logger given: Logger) throws(StartupError) {
        self.settings = settings
        let redactor = SecretRedactor(settings.secrets)
        self.redactor = redactor
        let portSettings = Self.portSettings(settings, integration: integration)
        var logger = given
        var shipper: PortLogShipper?
        if settings.sendLogsToPort, let portSettings {
            // Every line the service writes also goes to Port; the shipper's own client logs only
            // locally (its failures must not feed it).
            let logs = PortLogShipper(client: PortClient(settings: Self.reportingSettings(portSettings), logger: given), redactor: redactor)
            let local = given.handler
            logger = Logger(label: given.label) { _ in MultiplexLogHandler([local, logs.handler(level: given.logLevel)]) }
            logger.logLevel = given.logLevel
            shipper = logs
        }
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
        let engineMetrics = EngineMetrics(factory: metrics.factory)
        if let portSettings {
            let client = PortClient(settings: portSettings, logger: logger)
            var reporterSettings = PortSyncReporter.Settings()
            reporterSettings.interval = settings.scheduledResyncInterval
            reporterSettings.sendExamples = settings.sendRawDataExamples
            reporterSettings.redactor = redactor
            reporterSettings.metrics = engineMetrics
            let integrationRecord = PortIntegration(client: client, logger: logger)
            // A local mapping file wins; otherwise each job reads the mapping from Port, and
            // deliveries use the copy the last read left (at most a minute old).
            let cached = settings.mappingPath == nil ? CachedMapping(integrationRecord) : nil
            port = PortParts(
                integration: integrationRecord, provisioner: PortProvisioner(client: client, logger: logger),
                reporter: PortSyncReporter(client: PortClient(settings: Self.reportingSettings(portSettings), logger: logger), settings: reporterSettings, logger: logger),
                mapping: cached, changelog: PortChangelogAuthorization(apiToken: settings.apiToken, integrationIdentifier: settings.integrationIdentifier),
                logs: shipper)
            sink = PortSink(client: client, writeLog: catalog, logger: logger)
            mappingSource = cached ?? FixedMapping(mapping)
        } else {
            port = nil
            sink = catalog
            mappingSource = FixedMapping(mapping)
        }
        startSteps = StartSteps(readiness: readiness, failFast: settings.failOnStartError, redactor: redactor, logger: logger)
        let recentChanges = RecentChanges()
        let pool = MappingPool(workers: settings.mappingWorkers, options: .init(allowEnvironmentAccess: settings.allowEnvironmentInJQ))
        mappingPool = pool
        webhooks = WebhookDispatcher(
            integration: integration, integrationConfig: settings.integrationConfig, mappingSource: mappingSource, sink: sink,
            store: catalog, recentChanges: recentChanges, pool: pool,
            settings: .init(maxQueued: settings.webhookMaxQueued, integrationIdentifier: settings.integrationIdentifier,
                            metrics: engineMetrics, redactor: redactor),
            logger: logger, digests: catalog)
        coordinator = ResyncCoordinator(
            integration: integration, integrationConfig: settings.integrationConfig, mappingSource: mappingSource,
            destination: .reconciling(sink), store: catalog, pool: pool,
            settings: .init(integrationIdentifier: settings.integrationIdentifier,
                            maxConcurrentResources: settings.maxConcurrentResources, historyLimit: settings.jobHistoryLimit,
                            metrics: engineMetrics, redactor: redactor, fullWriteEvery: settings.fullWriteEvery),
            logger: logger, stateReporter: port?.reporter, recentChanges: recentChanges, digests: catalog)
        let authorization = BearerAuthorization(token: settings.apiToken)
        var resyncRoutes = ResyncRoutes(coordinator: coordinator, catalog: settings.port == nil ? catalog : nil,
                                        authorization: authorization, resyncsEnabled: settings.eventListener != .webhooksOnly)
        if let port, settings.eventListener == .webhook {
            resyncRoutes.portCalls = port.changelog
            let mapping = port.mapping
            resyncRoutes.onPortCall = { mapping?.invalidate() }
        }
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

    /// Creates the integration in Port when needed, loads the job history, then the start steps:
    /// provisioning Port's resources, registering the changelog destination, the integration's
    /// start hooks. A step that fails is retried by `run()` (or stops the start with
    /// `OCEAN__FAIL_ON_START_ERROR`).
    public func prepare() async throws(StartupError) {
        if let port {
            do {
                let record = try await port.integration.ensureExists(defaultMappingText: settings.mappingPath == nil ? integration.defaultMapping : nil)
                port.record.withLock { $0 = record }
                port.reporter.useMetricsIngest(record.metricsIngestURL)
                port.logs?.useIngest(record.logsIngestURL)
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
            try await startSteps.start([portSteps(), hookSteps()])
        } catch {
            await close()
            throw error
        }
    }

    /// The integration's start hooks, in order.
    private func hookSteps() -> [StartSteps.Step] {
        let context = StartContext(integrationConfig: settings.integrationConfig, baseURL: settings.baseURL, logger: logger)
        let hooks = integration.startHooks
        return hooks.enumerated().map { index, hook in
            StartSteps.Step(name: hooks.count == 1 ? "start hook" : "start hook \(index + 1)") { try await hook(context) }
        }
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully and returns.
    public func run() async throws {
        try await prepare()
        let triggers = ResyncTriggers(coordinator: coordinator, settings: settings, logger: logger)
        let http = HTTPService(server: server, readiness: readiness, logger: logger)
        let storage = StorageWatch(catalog: catalog, readiness: readiness, interval: .seconds(2), logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: mappingPool, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: storage, successTerminationBehavior: .ignore),
        ]
        if let port {
            // Stop after the coordinator, so a job's last reports and lines still go out.
            if let logs = port.logs { services.append(.init(service: logs, successTerminationBehavior: .ignore)) }
            services.append(.init(service: port.reporter, successTerminationBehavior: .ignore))
        }
        services += [
            .init(service: coordinator, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: webhooks, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: triggers, successTerminationBehavior: .ignore),
            .init(service: startSteps, successTerminationBehavior: .ignore),
        ]
        if let port, settings.eventListener == .polling {
            services.append(.init(service: PortResyncPolling(
                port: port.integration, coordinator: coordinator, catalog: catalog, mapping: port.mapping,
                interval: settings.resyncPollingInterval, resyncedOnStart: settings.resyncOnStart, logger: logger),
                successTerminationBehavior: .ignore))
        }
        services.append(.init(service: http, successTerminationBehavior: .gracefullyShutdownGroup))
        // A graceful shutdown stops them in reverse: the front door first, the mapping threads last.
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
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
        port?.reporter.finish()
        await port?.integration.client.shutdown()
        await port?.reporter.client.shutdown()
        await port?.logs?.client.shutdown()
    }

    /// Runs one job in-process (`ocean resync`, `OCEAN__EVENT_LISTENER__TYPE=ONCE`) and returns it
    /// when it has finished. `progress` is called with the job about every `interval`.
    public func runOnce(
        _ scope: Job.Scope, full: Bool = false, progressInterval: Duration = .milliseconds(200),
        progress: @escaping @Sendable (Job) -> Void = { _ in }
    ) async throws -> Job {
        try await prepare()
        let coordinator = coordinator
        let (job, _) = try await coordinator.request(scope, trigger: .cli, full: full)
        let reporter = port?.reporter
        let finished = await withDiscardingTaskGroup { reporting -> Job? in
            // What Port is told goes out while the job runs, and what is left once it has finished.
            if let reporter { reporting.addTask { await reporter.run() } }
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
            reporter?.finish()
            return finished
        }
        await port?.logs?.flush()
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

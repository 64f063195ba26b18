#if canImport(Glibc)
import Glibc
#endif
import Essentials
public import EventHTTP
public import Logging
public import OceanKit
import OceanEngine

/// How the service listens for work (`OCEAN__EVENT_LISTENER__TYPE`, Ocean's names).
public enum EventListenerType: String, Sendable, CaseIterable {
    /// Serve HTTP: resyncs on start, on a schedule and on request; webhooks. With Port, ask it every
    /// `OCEAN__EVENT_LISTENER__RESYNC_POLLING_INTERVAL` seconds whether a resync was requested.
    case polling = "POLLING"
    /// As `POLLING`, but Port calls the service (`<OCEAN__BASE_URL>/resync`, registered at start)
    /// instead of being asked.
    case webhook = "WEBHOOK"
    /// Run one resync of every kind and exit (0 when it succeeded).
    case once = "ONCE"
    /// Live events only: webhooks, no resyncs at all.
    case webhooksOnly = "WEBHOOKS_ONLY"
}

/// Every setting of the service, from flags and the environment, checked together.
public struct ServiceSettings: Sendable {
    public var http = HTTPServerConfiguration()
    /// `OCEAN__HTTP__API_TOKEN`: when set, `/resync*`, `/jobs*`, `/entities` and `/webhooks/*` need
    /// `Authorization: Bearer <token>`.
    public var apiToken: String?
    public var logLevel: Logger.Level = .info
    /// `OCEAN__INTEGRATION__TYPE`: which of the binary's integrations runs (default: its first, `fake` for `ocean`).
    public var integrationType = ""
    /// `OCEAN__INTEGRATION__IDENTIFIER` (default: the type).
    public var integrationIdentifier = "fake"
    public var integrationConfig = IntegrationConfig()
    /// `OCEAN__MAPPING__PATH` or `--mapping`: a mapping file that replaces the integration's default.
    public var mappingPath: String?
    /// `OCEAN__CATALOG__PATH` (default `.ocean/catalog.sqlite`).
    public var catalogPath = ".ocean/catalog.sqlite"
    /// `OCEAN__RESYNC_ON_START` (default true).
    public var resyncOnStart = true
    /// `OCEAN__SCHEDULED_RESYNC_INTERVAL` (minutes); nil for none.
    public var scheduledResyncInterval: Duration?
    public var eventListener = EventListenerType.polling
    /// `OCEAN__RESYNC__MAX_CONCURRENT_RESOURCES` (default 4).
    public var maxConcurrentResources = 4
    /// `OCEAN__RESYNC__MAPPING_WORKERS` (default: the number of cores).
    public var mappingWorkers = System.coreCount
    /// `OCEAN__RESYNC__JQ_TIME_LIMIT_MS`: the most CPU time jq may spend on one record before the record
    /// fails (libjq 1.6 loops for ever on some inputs; default 2000).
    public var jqTimeLimit: Duration = .milliseconds(2000)
    /// `OCEAN__RESYNC__FULL_EVERY`: every how many jobs one writes every entity, unchanged or not
    /// (default 24; 1: every job does, so nothing is left out).
    public var fullWriteEvery = 24
    /// `OCEAN__JOBS__HISTORY_LIMIT` (default 1000).
    public var jobHistoryLimit = 1000
    /// `OCEAN__METRICS__ENABLED` (default true): `GET /metrics` and the work of counting for it.
    public var metricsEnabled = true
    /// `OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS` (default false).
    public var allowEnvironmentInJQ = false
    /// `OCEAN__BASE_URL` (or Ocean's `OCEAN__EVENT_LISTENER__APP_HOST`): the service's public URL,
    /// for webhook registration and Port's changelog destination.
    public var baseURL: String?
    /// `OCEAN__EVENT_LISTENER__RESYNC_POLLING_INTERVAL` (seconds): how often `POLLING` asks Port
    /// for resync requests (default 60).
    public var resyncPollingInterval: Duration = .seconds(60)
    /// `OCEAN__INITIALIZE_PORT_RESOURCES` (default true): create the integration's blueprints,
    /// scorecards, pages, actions and default mapping in Port when Port says they are not yet.
    public var initializePortResources = true
    /// `OCEAN__FAIL_ON_START_ERROR` (default false): a start step that fails (a start hook,
    /// provisioning, registering with Port) stops the service instead of being retried.
    public var failOnStartError = false
    /// `OCEAN__SEND_RAW_DATA_EXAMPLES` (default true): the first raw records of each kind go to
    /// Port for its mapping editor, secrets masked.
    public var sendRawDataExamples = true
    /// `OCEAN__SEND_LOGS_TO_PORT` (default false): ship log lines to Port's log ingest.
    public var sendLogsToPort = false
    /// `OCEAN__WEBHOOK__MAX_BODY_SIZE` (default 5 MiB).
    public var webhookMaxBodySize = 5 << 20
    /// `OCEAN__WEBHOOK__MAX_QUEUED`: deliveries waiting beyond which new ones get 503 (default 10,000).
    public var webhookMaxQueued = 10_000
    /// Port as the destination: set when `OCEAN__PORT__CLIENT_ID` and `OCEAN__PORT__CLIENT_SECRET` are.
    public var port: PortDestination?
    /// How log lines look (`APPLICATION__LOG_FORMAT`: `auto`, `json`, `text`).
    public var logFormat = LogFormat.auto
    /// Values that must never be shown: the Port client secret, the API token, the integration's
    /// sensitive settings. Logs and job errors are scrubbed of them.
    public var secrets: [String] = []
    /// Things worth a warning at start (an integration setting its spec does not declare, ...).
    public var warnings: [String] = []

    /// How log lines look.
    public enum LogFormat: String, Sendable, CaseIterable {
        /// JSON lines when standard error is not a terminal, readable lines when it is.
        case auto
        case json
        case text
    }

    /// Where Port is and the credentials for it.
    public struct PortDestination: Sendable {
        public var clientID: String
        /// Never logged, never in errors, job JSON or metrics.
        public var clientSecret: String
        /// `OCEAN__PORT__BASE_URL` (default `https://api.getport.io`).
        public var baseURL: String
        /// `OCEAN__PORT__MAX_CONCURRENT_REQUESTS` (default 8).
        public var maxConcurrentRequests: Int
        /// `OCEAN__PORT__TIMEOUT_SECONDS`: each request's timeout (default 30).
        public var timeout: Duration

        public init(clientID: String, clientSecret: String, baseURL: String = "https://api.getport.io",
                    maxConcurrentRequests: Int = 8, timeout: Duration = .seconds(30)) {
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.baseURL = baseURL
            self.maxConcurrentRequests = maxConcurrentRequests
            self.timeout = timeout
        }
    }

    public init() {}

    /// Reads every setting from the environment alone; all problems are reported at once.
    public static func load(from environment: Environment, integrations: IntegrationChoice) throws(SettingErrors) -> ServiceSettings {
        try load(from: SettingsSources(environment: environment), integrations: integrations)
    }

    /// Reads every setting from `environment` (flags, variables, `.env`, `config.yaml`) and checks the
    /// integration's settings against its spec (the binary's own integration, or the one
    /// `OCEAN__INTEGRATION__TYPE` names among `integrations`); all problems are reported at once,
    /// each with the variable a user sets and where the bad value came from.
    public static func load(
        from environment: SettingsSources, integrations: IntegrationChoice
    ) throws(SettingErrors) -> ServiceSettings {
        let reader = SettingsReader(environment)
        var settings = ServiceSettings()
        settings.http = HTTPServerConfiguration(reader: reader)
        settings.port = PortDestination(reader: reader)
        settings.readService(reader)
        settings.readIntegration(reader, integrations: integrations)
        settings.secrets += reader.secrets
        settings.warnings += reader.warnings
        for key in environment.unreadFileKeys {
            settings.warnings.append("\(key) is not a setting swift-ocean reads")
        }
        guard reader.errors.isEmpty else {
            // A secret pasted into the wrong setting must not be quoted back.
            let redactor = SecretRedactor(settings.secrets + environment.secretValues)
            throw SettingErrors(reader.errors.map { SettingError($0.name, redactor.redact($0.message)) })
        }
        return settings
    }

    /// The service's own settings: the API token, logging, resyncs, jobs, metrics, webhooks.
    private mutating func readService(_ reader: SettingsReader) {
        if let token = reader["OCEAN__HTTP__API_TOKEN"] {
            if token.count < 16 {
                reader.fail("OCEAN__HTTP__API_TOKEN", "must be at least 16 characters")
            } else {
                apiToken = token
                reader.secrets.append(token)
            }
        }
        logLevel = reader.logLevel("APPLICATION__LOG_LEVEL") ?? logLevel
        if let text = reader["APPLICATION__LOG_FORMAT"] {
            if let format = LogFormat(rawValue: text.trimmingWhitespace().lowercased()) {
                logFormat = format
            } else {
                reader.fail("APPLICATION__LOG_FORMAT", "must be auto, json or text, got \"\(text.prefix(40))\"")
            }
        }
        mappingPath = reader["OCEAN__MAPPING__PATH"]
        catalogPath = reader["OCEAN__CATALOG__PATH"] ?? catalogPath
        resyncOnStart = reader.bool("OCEAN__RESYNC_ON_START") ?? resyncOnStart
        scheduledResyncInterval = reader.integer("OCEAN__SCHEDULED_RESYNC_INTERVAL", in: 0...525_600)
            .flatMap { $0 == 0 ? nil : .seconds($0 * 60) }
        if let text = reader["OCEAN__EVENT_LISTENER__TYPE"] {
            if let type = EventListenerType(rawValue: text.uppercased()) {
                eventListener = type
            } else {
                let known = EventListenerType.allCases.map(\.rawValue).joined(separator: ", ")
                reader.fail("OCEAN__EVENT_LISTENER__TYPE", "must be one of \(known), got \"\(text.prefix(40))\"")
            }
        }
        if let value = reader.integer("OCEAN__RESYNC__MAX_CONCURRENT_RESOURCES", in: 1...64) {
            maxConcurrentResources = value
        } else if let value = reader.integer("OCEAN__RESYNC__MAX_CONCURRENT_KINDS", in: 1...64) {
            // The name it had before: it bounds resources (several may share a kind), not kinds.
            maxConcurrentResources = value
            reader.warnings.append("OCEAN__RESYNC__MAX_CONCURRENT_KINDS is now OCEAN__RESYNC__MAX_CONCURRENT_RESOURCES")
        }
        mappingWorkers = reader.integer("OCEAN__RESYNC__MAPPING_WORKERS", in: 1...256) ?? mappingWorkers
        jqTimeLimit = reader.integer("OCEAN__RESYNC__JQ_TIME_LIMIT_MS", in: 10...600_000).map { .milliseconds($0) } ?? jqTimeLimit
        jobHistoryLimit = reader.integer("OCEAN__JOBS__HISTORY_LIMIT", in: 1...1_000_000) ?? jobHistoryLimit
        fullWriteEvery = reader.integer("OCEAN__RESYNC__FULL_EVERY", in: 1...100_000) ?? fullWriteEvery
        metricsEnabled = reader.bool("OCEAN__METRICS__ENABLED") ?? metricsEnabled
        allowEnvironmentInJQ = reader.bool("OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS") ?? allowEnvironmentInJQ
        baseURL = reader["OCEAN__BASE_URL"] ?? reader["OCEAN__EVENT_LISTENER__APP_HOST"]
        if let url = baseURL, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            reader.fail(reader["OCEAN__BASE_URL"] != nil ? "OCEAN__BASE_URL" : "OCEAN__EVENT_LISTENER__APP_HOST",
                        "must be an http:// or https:// URL, got \"\(url.prefix(60))\"")
        }
        baseURL = baseURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        resyncPollingInterval = reader.integer("OCEAN__EVENT_LISTENER__RESYNC_POLLING_INTERVAL", in: 1...86_400).map { .seconds($0) } ?? resyncPollingInterval
        initializePortResources = reader.bool("OCEAN__INITIALIZE_PORT_RESOURCES") ?? initializePortResources
        failOnStartError = reader.bool("OCEAN__FAIL_ON_START_ERROR") ?? failOnStartError
        sendRawDataExamples = reader.bool("OCEAN__SEND_RAW_DATA_EXAMPLES") ?? sendRawDataExamples
        sendLogsToPort = reader.bool("OCEAN__SEND_LOGS_TO_PORT") ?? sendLogsToPort
        webhookMaxBodySize = reader.integer("OCEAN__WEBHOOK__MAX_BODY_SIZE", in: 1024...(256 << 20)) ?? webhookMaxBodySize
        webhookMaxQueued = reader.integer("OCEAN__WEBHOOK__MAX_QUEUED", in: 1...10_000_000) ?? webhookMaxQueued
    }

    /// Which integration runs, under which identifier, with which settings.
    private mutating func readIntegration(_ reader: SettingsReader, integrations: IntegrationChoice) {
        if let fixed = integrations.fixed {
            integrationType = fixed.type
        } else if let type = reader["OCEAN__INTEGRATION__TYPE"] {
            integrationType = type
        } else if let first = integrations.types.first {
            integrationType = first
        }
        integrationIdentifier = reader["OCEAN__INTEGRATION__IDENTIFIER"] ?? integrationType
        if !integrationIdentifier.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            reader.fail("OCEAN__INTEGRATION__IDENTIFIER", "may hold only letters, digits, - and _, got \"\(integrationIdentifier.prefix(60))\"")
        }
        var errors: [SettingError] = []
        resolveIntegrationConfig(
            from: reader.sources, integration: integrations.integration(type: integrationType),
            unknownType: integrations.unknownTypeMessage(integrationType), errors: &errors)
        for error in errors { reader.record(error) }
    }

    /// The integration's settings: given ones checked against its spec, defaults filled in.
    private mutating func resolveIntegrationConfig(
        from sources: SettingsSources, integration: OceanIntegration?, unknownType: String, errors: inout [SettingError]
    ) {
        let prefix = "OCEAN__INTEGRATION__CONFIG__"
        guard let integration else {
            errors.append(SettingError(sources.label("OCEAN__INTEGRATION__TYPE"), unknownType))
            return
        }
        var spec = IntegrationSpec(type: integration.type, settings: [])
        if let text = integration.spec {
            do {
                spec = try IntegrationSpec.parse(text)
            } catch {
                for problem in error.errors {
                    errors.append(SettingError("the \(integration.type) integration's .port/spec.yaml", problem.description))
                }
            }
        }
        // Every name given: the spec's (read through every source), and any other the environment
        // or config.yaml sets under the prefix.
        var names = Set(spec.settings.map(\.variableName))
        for name in sources.names where name.hasPrefix(prefix) && name.count > prefix.count {
            names.insert(name)
        }
        var given: [String: IntegrationSpec.GivenValue] = [:]
        for name in names {
            guard let value = sources[name] else { continue }
            given[String(name.dropFirst(prefix.count))] = .init(value, origin: sources.origin(name))
        }
        let resolved = spec.resolve(given)
        // Secrets: what the spec marks sensitive, and what is named like one (`API_TOKEN`, ...).
        let namedLikeSecrets = names.filter(SettingsSources.isSecretName).map { String($0.dropFirst(prefix.count)) }
        integrationConfig = IntegrationConfig(resolved.config.raw, sensitive: Array(resolved.config.sensitiveKeys) + namedLikeSecrets)
        for key in integrationConfig.sensitiveKeys {
            if let value = integrationConfig[key], !value.isEmpty { secrets.append(value) }
        }
        for problem in resolved.problems {
            errors.append(SettingError(problem.path, problem.message))
        }
        for name in resolved.unknown where integration.spec != nil {
            warnings.append("\(prefix)\(name) is not a setting of the \(integration.type) integration (its spec declares \(spec.settings.map(\.variableName).joined(separator: ", ")))")
        }
    }
}

extension ServiceSettings: CustomReflectable {
    /// What `print` and string interpolation show: every setting but the secrets (the API token and
    /// the Port client secret masked; the integration config masks its sensitive settings itself).
    public var customMirror: Mirror {
        Mirror(self, children: [
            "http": http, "apiToken": apiToken.map { _ in SecretRedactor.mask } as Any,
            "logLevel": logLevel, "logFormat": logFormat, "integrationType": integrationType,
            "integrationIdentifier": integrationIdentifier, "integrationConfig": integrationConfig,
            "mappingPath": mappingPath as Any, "catalogPath": catalogPath, "resyncOnStart": resyncOnStart,
            "scheduledResyncInterval": scheduledResyncInterval as Any, "eventListener": eventListener,
            "metricsEnabled": metricsEnabled, "baseURL": baseURL as Any, "resyncPollingInterval": resyncPollingInterval,
            "initializePortResources": initializePortResources, "failOnStartError": failOnStartError,
            "sendRawDataExamples": sendRawDataExamples, "sendLogsToPort": sendLogsToPort,
            "port": port.map { "clientID: \($0.clientID), clientSecret: \(SecretRedactor.mask), baseURL: \($0.baseURL)" } as Any,
        ])
    }
}

/// Every bad setting, each with the name a user sets.
public struct SettingErrors: Error, Sendable, CustomStringConvertible {
    public let errors: [SettingError]

    public init(_ errors: [SettingError]) {
        self.errors = errors
    }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Facts about the machine.
public enum System {
    /// Cores available to the process.
    public static var coreCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

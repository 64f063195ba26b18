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
    /// Serve HTTP: resyncs on start, on a schedule and on request; webhooks. (Ocean's `POLLING` and
    /// `WEBHOOK` both mean this here.)
    case polling = "POLLING"
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
    /// `OCEAN__JOBS__HISTORY_LIMIT` (default 1000).
    public var jobHistoryLimit = 1000
    /// `OCEAN__METRICS__ENABLED` (default true): `GET /metrics` and the work of counting for it.
    public var metricsEnabled = true
    /// `OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS` (default false).
    public var allowEnvironmentInJQ = false
    /// `OCEAN__BASE_URL`: the service's public URL, for webhook registration.
    public var baseURL: String?
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
        var settings = ServiceSettings()
        var errors: [SettingError] = []
        func read<Value>(_ body: () throws(SettingError) -> Value?) -> Value? {
            do { return try body() } catch { errors.append(error); return nil }
        }
        /// A whole number within `range`, nil when unset or bad (then the problem is recorded).
        func integer(_ name: String, in range: ClosedRange<Int>) -> Int? {
            guard let value = read({ () throws(SettingError) in try environment.integer(name) }) else { return nil }
            guard range.contains(value) else {
                errors.append(SettingError(environment.label(name), "must be from \(range.lowerBound) to \(range.upperBound), got \(value)"))
                return nil
            }
            return value
        }
        settings.http.host = environment["APPLICATION__HOST"] ?? settings.http.host
        if let port = integer("APPLICATION__PORT", in: 0...65535) {
            settings.http.port = port
        }
        if let loops = integer("OCEAN__HTTP__EVENT_LOOPS", in: 1...64) {
            settings.http.eventLoops = loops
        }
        if let size = integer("OCEAN__HTTP__MAX_BODY_SIZE", in: 1...(1 << 30)) {
            settings.http.maxBodySize = size
        }
        if let size = integer("OCEAN__HTTP__MAX_HEADERS_SIZE", in: 1024...(1 << 20)) {
            settings.http.maxHeadersSize = size
        }
        if let seconds = integer("OCEAN__HTTP__TIMEOUT_SECONDS", in: 1...3600) {
            settings.http.connectionTimeoutSeconds = seconds
        }
        if let seconds = integer("OCEAN__HTTP__SHUTDOWN_GRACE_SECONDS", in: 0...3600) {
            settings.http.shutdownGracePeriod = .seconds(seconds)
        }
        if let seconds = integer("OCEAN__HTTP__HEADER_TIMEOUT_SECONDS", in: 1...600) {
            settings.http.headerTimeout = .seconds(seconds)
        }
        if let seconds = integer("OCEAN__HTTP__BODY_TIMEOUT_SECONDS", in: 1...3600) {
            settings.http.bodyTimeout = .seconds(seconds)
        }
        if let count = integer("OCEAN__HTTP__MAX_CONNECTIONS", in: 1...1_000_000) {
            settings.http.maxConnections = count
        }
        if let bytes = integer("OCEAN__HTTP__MAX_BUFFERED_BODY_BYTES", in: (1 << 20)...(16 << 30)) {
            settings.http.maxBufferedBodyBytes = bytes
        }
        if let token = environment["OCEAN__HTTP__API_TOKEN"] {
            if token.count < 16 {
                errors.append(SettingError(environment.label("OCEAN__HTTP__API_TOKEN"), "must be at least 16 characters"))
            } else {
                settings.apiToken = token
                settings.secrets.append(token)
            }
        }
        if let level = read({ () throws(SettingError) in try environment.logLevel("APPLICATION__LOG_LEVEL") }) {
            settings.logLevel = level
        }
        if let text = environment["APPLICATION__LOG_FORMAT"] {
            if let format = LogFormat(rawValue: text.trimmingWhitespace().lowercased()) {
                settings.logFormat = format
            } else {
                errors.append(SettingError(environment.label("APPLICATION__LOG_FORMAT"), "must be auto, json or text, got \"\(text.prefix(40))\""))
            }
        }
        if let fixed = integrations.fixed {
            settings.integrationType = fixed.type
        } else if let type = environment["OCEAN__INTEGRATION__TYPE"] {
            settings.integrationType = type
        } else if let first = integrations.types.first {
            settings.integrationType = first
        }
        settings.integrationIdentifier = environment["OCEAN__INTEGRATION__IDENTIFIER"] ?? settings.integrationType
        if !settings.integrationIdentifier.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            errors.append(SettingError(environment.label("OCEAN__INTEGRATION__IDENTIFIER"), "may hold only letters, digits, - and _, got \"\(settings.integrationIdentifier.prefix(60))\""))
        }
        settings.resolveIntegrationConfig(
            from: environment, integration: integrations.integration(type: settings.integrationType),
            unknownType: integrations.unknownTypeMessage(settings.integrationType), errors: &errors)
        settings.mappingPath = environment["OCEAN__MAPPING__PATH"]
        settings.catalogPath = environment["OCEAN__CATALOG__PATH"] ?? settings.catalogPath
        if let flag = read({ () throws(SettingError) in try environment.bool("OCEAN__RESYNC_ON_START") }) {
            settings.resyncOnStart = flag
        }
        settings.scheduledResyncInterval = integer("OCEAN__SCHEDULED_RESYNC_INTERVAL", in: 0...525_600)
            .flatMap { $0 == 0 ? nil : .seconds($0 * 60) }
        if let text = environment["OCEAN__EVENT_LISTENER__TYPE"] {
            if let type = EventListenerType(rawValue: text.uppercased()) {
                settings.eventListener = type
            } else {
                let known = EventListenerType.allCases.map(\.rawValue).joined(separator: ", ")
                errors.append(SettingError(environment.label("OCEAN__EVENT_LISTENER__TYPE"), "must be one of \(known), got \"\(text.prefix(40))\""))
            }
        }
        if let value = integer("OCEAN__RESYNC__MAX_CONCURRENT_RESOURCES", in: 1...64) {
            settings.maxConcurrentResources = value
        } else if let value = integer("OCEAN__RESYNC__MAX_CONCURRENT_KINDS", in: 1...64) {
            // The name it had before: it bounds resources (several may share a kind), not kinds.
            settings.maxConcurrentResources = value
            settings.warnings.append("OCEAN__RESYNC__MAX_CONCURRENT_KINDS is now OCEAN__RESYNC__MAX_CONCURRENT_RESOURCES")
        }
        if let value = integer("OCEAN__RESYNC__MAPPING_WORKERS", in: 1...256) {
            settings.mappingWorkers = value
        }
        if let value = integer("OCEAN__RESYNC__JQ_TIME_LIMIT_MS", in: 10...600_000) {
            settings.jqTimeLimit = .milliseconds(value)
        }
        if let value = integer("OCEAN__JOBS__HISTORY_LIMIT", in: 1...1_000_000) {
            settings.jobHistoryLimit = value
        }
        if let flag = read({ () throws(SettingError) in try environment.bool("OCEAN__METRICS__ENABLED") }) {
            settings.metricsEnabled = flag
        }
        if let flag = read({ () throws(SettingError) in try environment.bool("OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS") }) {
            settings.allowEnvironmentInJQ = flag
        }
        settings.baseURL = environment["OCEAN__BASE_URL"]
        if let value = integer("OCEAN__WEBHOOK__MAX_BODY_SIZE", in: 1024...(256 << 20)) {
            settings.webhookMaxBodySize = value
        }
        if let value = integer("OCEAN__WEBHOOK__MAX_QUEUED", in: 1...10_000_000) {
            settings.webhookMaxQueued = value
        }
        switch (environment["OCEAN__PORT__CLIENT_ID"], environment["OCEAN__PORT__CLIENT_SECRET"]) {
        case (let id?, let secret?):
            var port = PortDestination(clientID: id, clientSecret: secret)
            if let url = environment["OCEAN__PORT__BASE_URL"] {
                if url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 {
                    port.baseURL = url
                } else {
                    errors.append(SettingError(environment.label("OCEAN__PORT__BASE_URL"), "must be an http:// or https:// URL, got \"\(url.prefix(60))\""))
                }
            }
            if let value = integer("OCEAN__PORT__MAX_CONCURRENT_REQUESTS", in: 1...256) {
                port.maxConcurrentRequests = value
            }
            if let seconds = integer("OCEAN__PORT__TIMEOUT_SECONDS", in: 1...600) {
                port.timeout = .seconds(seconds)
            }
            settings.port = port
            settings.secrets.append(secret)
        case (nil, nil):
            break
        case (nil, _):
            errors.append(SettingError(environment.label("OCEAN__PORT__CLIENT_ID"), "is required when OCEAN__PORT__CLIENT_SECRET is set"))
        case (_, nil):
            errors.append(SettingError(environment.label("OCEAN__PORT__CLIENT_SECRET"), "is required when OCEAN__PORT__CLIENT_ID is set"))
        }
        for key in environment.unreadFileKeys {
            settings.warnings.append("\(key) is not a setting swift-ocean reads")
        }
        guard errors.isEmpty else {
            // A secret pasted into the wrong setting must not be quoted back.
            let redactor = SecretRedactor(settings.secrets + environment.secretValues)
            throw SettingErrors(errors.map { SettingError($0.name, redactor.redact($0.message)) })
        }
        return settings
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
            "metricsEnabled": metricsEnabled,
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

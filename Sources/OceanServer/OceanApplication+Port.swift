import Essentials
import OceanKit
import OceanEngine
public import OceanPort

/// The service's parts that talk to Port: who it is to Port, the start steps (provisioning,
/// registering the changelog destination) and `ocean defaults`.
extension OceanApplication {
    /// What talks to Port, when it is the destination.
    struct PortParts: Sendable {
        let integration: PortIntegration
        let provisioner: PortProvisioner
        let reporter: PortSyncReporter
        /// The mapping read from Port, cached for deliveries (nil with a local mapping file).
        let mapping: CachedMapping?
        let changelog: PortChangelogAuthorization
        /// Log lines to Port (`OCEAN__SEND_LOGS_TO_PORT`).
        let logs: PortLogShipper?
        /// Whether the integration's record says its resources were provisioned: read at start.
        let record = Locked(PortIntegrationRecord())
    }

    /// Who the service is to Port, when Port is the destination.
    static func portSettings(_ settings: ServiceSettings, integration: OceanIntegration) -> PortSettings? {
        guard let destination = settings.port else { return nil }
        return PortSettings(
            clientID: destination.clientID, clientSecret: destination.clientSecret, baseURL: destination.baseURL,
            integrationType: integration.type, integrationIdentifier: settings.integrationIdentifier,
            integrationVersion: SwiftOcean.reportedVersion(of: integration.version),
            maxConcurrentRequests: destination.maxConcurrentRequests, requestTimeout: destination.timeout)
    }

    /// Reports and log lines are worth less than a job's time: brief retries, short timeouts, their
    /// own connections.
    static func reportingSettings(_ port: PortSettings) -> PortSettings {
        var settings = port
        settings.maxConcurrentRequests = 2
        settings.requestTimeout = .seconds(5)
        settings.retryPolicy = RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(200), maxBackoff: .seconds(1))
        return settings
    }

    /// Provisioning (when Port says the integration's resources are not initialised), then the
    /// changelog destination (the WEBHOOK listener).
    func portSteps() -> [StartSteps.Step] {
        guard let port else { return [] }
        var steps: [StartSteps.Step] = []
        let record = port.record.current
        if settings.initializePortResources && !record.resourcesInitialized {
            let mappingText = settings.mappingPath == nil && !record.hasMapping ? integration.defaultMapping : nil
            steps.append(StartSteps.Step(name: "provisioning Port") { [self] in
                _ = try await provision(port, mapping: mappingText)
            })
        }
        if settings.eventListener == .webhook {
            if let baseURL = settings.baseURL {
                let url = port.changelog.destination(baseURL: baseURL)
                steps.append(StartSteps.Step(name: "registering with Port") {
                    try await port.integration.registerChangelogDestination(url)
                })
            } else {
                logger.warning("OCEAN__EVENT_LISTENER__TYPE=WEBHOOK needs OCEAN__BASE_URL (or OCEAN__EVENT_LISTENER__APP_HOST): Port cannot call the service")
            }
        }
        return steps
    }

    /// `ocean defaults apply`: the integration in Port, then its resources (as provisioning at start
    /// does, whatever `arePortResourcesInitialized` says), its default mapping when Port has none,
    /// and the mark that they are initialised.
    public func applyPortDefaults() async throws -> ProvisioningOutcome {
        guard let port else { throw StartupError("ocean defaults needs Port: set OCEAN__PORT__CLIENT_ID and OCEAN__PORT__CLIENT_SECRET") }
        let record = try await port.integration.ensureExists(defaultMappingText: integration.defaultMapping)
        return try await provision(port, mapping: record.hasMapping ? nil : integration.defaultMapping)
    }

    /// The integration's resources, then `mapping` (when given) as its mapping in Port, then the mark
    /// that they are initialised: what the start step and `ocean defaults apply` both do.
    private func provision(_ port: PortParts, mapping: String?) async throws -> ProvisioningOutcome {
        let outcome = try await port.provisioner.provision(integration.resources)
        // New blueprints hold nothing: what was written before (elsewhere) is to be written again.
        try await catalog.forgetDigests(integration: settings.integrationIdentifier, blueprints: outcome.created)
        if let mapping { try await port.integration.saveMapping(mapping) }
        try await port.integration.markResourcesInitialized(true)
        return outcome
    }

    /// `ocean defaults clean`: deletes the integration's blueprints with their entities, and
    /// clears the mark so the next start provisions them again. Returns the blueprints deleted.
    public func cleanPortDefaults() async throws -> [String] {
        guard let port else { throw StartupError("ocean defaults needs Port: set OCEAN__PORT__CLIENT_ID and OCEAN__PORT__CLIENT_SECRET") }
        try await port.integration.ensureExists(defaultMappingText: nil)
        let deleted = try await port.provisioner.clean(integration.resources)
        try await catalog.forgetDigests(integration: settings.integrationIdentifier, blueprints: deleted)
        try await port.integration.markResourcesInitialized(false)
        return deleted
    }
}

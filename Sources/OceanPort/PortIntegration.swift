import Foundation
public import Logging
public import OceanKit
public import OceanEngine

/// The integration's record in Port: where the mapping lives (`integration.config`), created on
/// first start. (What Port sees of jobs: `PortSyncReporter`.)
public final class PortIntegration: MappingSource, Sendable {
    public let client: PortClient
    private let logger: Logger
    public init(client: PortClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    var path: String { "/v1/integration/\(PortSink.escape(client.settings.integrationIdentifier))" }

    /// Creates the integration in Port with `defaultMappingText` when it does not exist yet; updates
    /// its type and version when they changed. Returns what Port holds of it.
    @discardableResult
    public func ensureExists(defaultMappingText: String?) async throws -> PortIntegrationRecord {
        let response = try await client.call("GET", path)
        let settings = client.settings
        if response.status == 404 {
            let integration = PortPayloads.IntegrationCreate(
                installationId: settings.integrationIdentifier, installationAppType: settings.integrationType,
                version: settings.integrationVersion, config: defaultMappingText.flatMap { try? JSON.parseYAML($0) })
            let created = try await client.callExpectingSuccess("POST", "/v1/integration", body: Array(try JSONEncoder().encode(integration)))
            logger.info("integration created in Port", metadata: ["integration.identifier": "\(settings.integrationIdentifier)"])
            return PortIntegrationRecord(created.body) ?? PortIntegrationRecord(hasMapping: integration.config != nil)
        }
        guard response.isSuccess else {
            throw PortError(status: response.status, message: "Port answered \(response.status) to GET \(path): \(PortClient.portMessage(response.body))")
        }
        let existing = (try? JSONDecoder().decode(PortPayloads.IntegrationEnvelope.self, from: Data(response.body)))?.integration
        var changes = PortPayloads.IntegrationChanges()
        if existing?.version?.stringValue != settings.integrationVersion { changes.version = settings.integrationVersion }
        if existing?.installationAppType?.stringValue != settings.integrationType { changes.installationAppType = settings.integrationType }
        if !changes.isEmpty {
            _ = try await client.callExpectingSuccess("PATCH", path, body: Array(try JSONEncoder().encode(changes)))
        }
        return PortIntegrationRecord(response.body) ?? PortIntegrationRecord()
    }

    /// The mapping from `integration.config`, read at the start of each job.
    public func currentMapping() async throws -> PortAppConfig {
        let response = try await client.callExpectingSuccess("GET", path)
        let document: JSON
        do {
            document = try JSONDecoder().decode(JSON.self, from: Data(response.body))
        } catch {
            throw PortError(status: response.status, message: "Port's integration answer is not JSON")
        }
        guard let config = document.objectValue?["integration"]?.objectValue?["config"], config != .null else {
            throw PortError(status: response.status, message: "the integration in Port has no mapping (integration.config is empty)")
        }
        do {
            return try PortAppConfig.decode(config).config
        } catch {
            throw PortError(status: nil, message: "the mapping in Port (integration.config) is invalid: \(error)")
        }
    }
}

import Foundation
public import Logging
public import OceanKit
public import OceanEngine

/// The integration's record in Port: where the mapping lives (`integration.config`), created on
/// first start, and where the resync state is reported.
public final class PortIntegration: MappingSource, ResyncStateReporter, Sendable {
    public let client: PortClient
    private let logger: Logger
    /// The scheduled interval, reported as `nextResync` and `intervalInMinuets` (Port's spelling).
    private let interval: Duration?

    public init(client: PortClient, interval: Duration?, logger: Logger) {
        self.client = client
        self.interval = interval
        self.logger = logger
    }

    private var path: String { "/v1/integration/\(PortSink.escape(client.settings.integrationIdentifier))" }

    /// Creates the integration in Port with `defaultMapping` when it does not exist yet; updates its
    /// type and version when they changed.
    public func ensureExists(defaultMapping: PortAppConfig?, defaultMappingText: String?) async throws {
        let response = try await client.call("GET", path)
        let settings = client.settings
        if response.status == 404 {
            let integration = PortPayloads.IntegrationCreate(
                installationId: settings.integrationIdentifier, installationAppType: settings.integrationType,
                version: settings.integrationVersion, config: defaultMappingText.flatMap { try? JSON.parseYAML($0) })
            _ = try await client.callExpectingSuccess("POST", "/v1/integration", body: Array(try JSONEncoder().encode(integration)))
            logger.info("integration created in Port", metadata: ["integration.identifier": "\(settings.integrationIdentifier)"])
            return
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

    public func jobStarted(_ job: Job) async {
        await report(PortPayloads.ResyncState(status: "running", lastResyncStart: Self.timestamp(job.startedAt ?? Date())))
    }

    public func jobFinished(_ job: Job) async {
        let status = switch job.status {
        case .succeeded: "completed"
        case .cancelled: "aborted"
        default: "failed"
        }
        var state = PortPayloads.ResyncState(status: status, lastResyncEnd: Self.timestamp(job.finishedAt ?? Date()))
        if let interval {
            state.intervalInMinuets = Int(interval / .seconds(60))
            state.nextResync = Self.timestamp(Date().addingTimeInterval(Double(interval / .seconds(1))))
        }
        await report(state)
    }

    /// Reporting is best effort: a failure is logged, never fails the job.
    private func report(_ state: PortPayloads.ResyncState) async {
        do {
            let body = try JSONEncoder().encode(state)
            _ = try await client.callExpectingSuccess("PATCH", path + "/resync-state", body: Array(body))
        } catch {
            logger.warning("reporting the resync state to Port failed", metadata: ["error": "\(error)"])
        }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

public import Foundation
import OceanKit

/// What Port holds of the integration that the service acts on.
public struct PortIntegrationRecord: Sendable, Hashable {
    /// `arePortResourcesInitialized`: its defaults were provisioned (never again, then).
    public var resourcesInitialized = false
    /// Whether `config` (the mapping) is set.
    public var hasMapping = false
    /// `metricAttributes.ingestUrl`: where sync metrics and heartbeats go.
    public var metricsIngestURL: String?
    /// `logAttributes.ingestUrl`: where shipped log lines go.
    public var logsIngestURL: String?

    public init(resourcesInitialized: Bool = false, hasMapping: Bool = false, metricsIngestURL: String? = nil, logsIngestURL: String? = nil) {
        self.resourcesInitialized = resourcesInitialized
        self.hasMapping = hasMapping
        self.metricsIngestURL = metricsIngestURL
        self.logsIngestURL = logsIngestURL
    }

    /// From the body of `GET`, `POST` or `PATCH /v1/integration...` (`{"integration": {...}}`).
    init?(_ body: [UInt8]) {
        guard let integration = (try? JSONDecoder().decode(PortPayloads.IntegrationEnvelope.self, from: Data(body)))?.integration else {
            return nil
        }
        resourcesInitialized = integration.arePortResourcesInitialized?.boolValue == true
        if let config = integration.config, config != .null, config.objectValue?.isEmpty != true { hasMapping = true }
        metricsIngestURL = integration.metricAttributes?["ingestUrl"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        logsIngestURL = integration.logAttributes?["ingestUrl"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// A resync Port asks for (a user pressed "Resync" or saved a mapping).
public struct PortResyncRequest: Sendable, Hashable {
    public let id: String
    /// As Port sent it; compared as a date.
    public let updatedAt: String
    public let date: Date
}

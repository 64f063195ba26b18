import Essentials
public import Logging

/// What a start hook gets.
public struct StartContext: Sendable {
    public let integrationConfig: IntegrationConfig
    /// The service's public base URL (`OCEAN__BASE_URL`), for registering webhooks; nil when unset.
    public let baseURL: String?
    public let logger: Logger

    public init(integrationConfig: IntegrationConfig, baseURL: String?, logger: Logger) {
        self.integrationConfig = integrationConfig
        self.baseURL = baseURL
        self.logger = logger
    }
}

public import Logging

/// What a resync handler gets: the kind and resource it serves, the integration's settings, a
/// logger, and cancellation.
public struct ResyncContext: Sendable {
    /// The kind being resynced.
    public let kind: String
    /// The resource of the mapping this run serves (several resources may share a kind: the handler
    /// runs once for each, as in Ocean).
    public let resource: ResourceConfig
    /// The resource's position in the mapping.
    public let resourceIndex: Int
    /// The integration's settings (`OCEAN__INTEGRATION__CONFIG__*`).
    public let integrationConfig: IntegrationConfig
    /// Logs with `job.id`, `resync.kind` metadata.
    public let logger: Logger
    /// The job this run belongs to.
    public let jobID: String

    public init(kind: String, resource: ResourceConfig, resourceIndex: Int, integrationConfig: IntegrationConfig,
                logger: Logger, jobID: String) {
        self.kind = kind
        self.resource = resource
        self.resourceIndex = resourceIndex
        self.integrationConfig = integrationConfig
        self.logger = logger
        self.jobID = jobID
    }

    /// The resource's selector (`query` and any integration-specific field such as Jira's
    /// `expand`) decoded into the integration's own type.
    public func selector<Selector: Decodable>(as type: Selector.Type) throws -> Selector {
        try resource.selector.decode(as: type)
    }

    /// True once the job has been cancelled: a long handler should stop fetching.
    public var isCancelled: Bool { Task.isCancelled }

    /// Throws `CancellationError` once the job has been cancelled.
    public func checkCancellation() throws {
        try Task.checkCancellation()
    }
}

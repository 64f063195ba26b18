public import OceanKit



/// Where a job reads the mapping when it starts: a file, the integration's default, or Port.
public protocol MappingSource: Sendable {
    /// The mapping now (a webhook delivery asks: it may be a cached copy). Throws with a message a
    /// user can act on when it cannot be read.
    func currentMapping() async throws -> PortAppConfig
    /// The mapping as a job starting must see it: read afresh where it can change.
    func mappingForJob() async throws -> PortAppConfig
}

extension MappingSource {
    public func mappingForJob() async throws -> PortAppConfig { try await currentMapping() }
}

/// A mapping fixed at start (a local file or the integration's default).
public struct FixedMapping: MappingSource {
    public let config: PortAppConfig

    public init(_ config: PortAppConfig) {
        self.config = config
    }

    public func currentMapping() async throws -> PortAppConfig { config }
}

public import OceanKit



/// Where a job reads the mapping when it starts: a file, the integration's default, or Port.
public protocol MappingSource: Sendable {
    /// The mapping now. Throws with a message a user can act on when it cannot be read.
    func currentMapping() async throws -> PortAppConfig
}

/// A mapping fixed at start (a local file or the integration's default).
public struct FixedMapping: MappingSource {
    public let config: PortAppConfig

    public init(_ config: PortAppConfig) {
        self.config = config
    }

    public func currentMapping() async throws -> PortAppConfig { config }
}

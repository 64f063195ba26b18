public import OceanKit
import Essentials

/// A mapping source in front of one that is costly to ask (Port): a job starting reads it afresh;
/// a webhook delivery gets the copy of the last read while it is at most `maxAge` old, so
/// deliveries do not ask Port each. `invalidate()` (Port signalled a change) makes the next
/// delivery read it again. One read at a time: concurrent deliveries share it.
public final class CachedMapping: MappingSource {
    private struct State {
        var config: PortAppConfig?
        var readAt: ContinuousClock.Instant?
        var reading: Task<PortAppConfig, any Error>?
    }

    private let source: any MappingSource
    private let maxAge: Duration
    private let state = Locked(State())

    public init(_ source: any MappingSource, maxAge: Duration = .seconds(60)) {
        self.source = source
        self.maxAge = maxAge
    }

    public func currentMapping() async throws -> PortAppConfig {
        let cached = state.withLock { state -> PortAppConfig? in
            guard let config = state.config, let readAt = state.readAt, ContinuousClock.now - readAt < maxAge else { return nil }
            return config
        }
        if let cached { return cached }
        do {
            return try await read()
        } catch {
            // Port being down for a moment does not stop deliveries: the last mapping read serves.
            if let stale = state.withLock({ $0.config }) { return stale }
            throw error
        }
    }

    public func mappingForJob() async throws -> PortAppConfig {
        try await read()
    }

    /// Forgets the copy: the next delivery reads the mapping again.
    public func invalidate() {
        state.withLock { $0.readAt = nil }
    }

    private func read() async throws -> PortAppConfig {
        let task = state.withLock { state -> Task<PortAppConfig, any Error> in
            if let reading = state.reading { return reading }
            let source = self.source
            let reading = Task { try await source.mappingForJob() }
            state.reading = reading
            return reading
        }
        do {
            let config = try await task.value
            state.withLock { state in
                state.config = config
                state.readAt = .now
                state.reading = nil
            }
            return config
        } catch {
            state.withLock { $0.reading = nil }
            throw error
        }
    }
}

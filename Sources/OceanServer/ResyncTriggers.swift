import Logging
import OceanEngine
import ServiceLifecycle

/// Resync triggers that are not HTTP: once at start, then on a schedule, until graceful shutdown.
/// (Stopping the jobs is the coordinator's own part of the shutdown.)
struct ResyncTriggers: Service, CustomStringConvertible {
    /// What service-lifecycle logs: the name only (the settings hold secrets).
    var description: String { "ResyncTriggers" }

    let coordinator: ResyncCoordinator
    let settings: ServiceSettings
    let logger: Logger

    func run() async throws {
        guard settings.eventListener != .webhooksOnly else { return }
        if settings.resyncOnStart {
            _ = try? await coordinator.request(.allKinds, trigger: .startup)
        }
        guard let interval = settings.scheduledResyncInterval else { return }
        // Cancelled (the sleep throws) when the group shuts down gracefully.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                _ = try? await coordinator.request(.allKinds, trigger: .schedule)
            }
        }
    }
}

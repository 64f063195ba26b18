import Foundation
import Logging
import OceanEngine
import OceanCatalog
import OceanPort
import ServiceLifecycle

/// The `POLLING` listener with Port: every interval, asks Port for the latest resync request (a
/// user pressed "Resync" or saved a mapping) and starts a job (`trigger: port`) for one newer than
/// the last acted on. That watermark is stored in the catalog, so a restart does not run an old
/// request again. A request during a running job queues and coalesces like any other trigger.
struct PortResyncPolling: Service, CustomStringConvertible {
    var description: String { "PortResyncPolling" }

    let port: PortIntegration
    let coordinator: ResyncCoordinator
    let catalog: CatalogStore
    /// Forgotten when Port signals a change, so deliveries read the new mapping.
    let mapping: CachedMapping?
    let interval: Duration
    /// True when a job was requested at start: it covers a request older than any watermark.
    let resyncedOnStart: Bool
    let logger: Logger

    var watermarkKey: String { "port.resync_request.\(port.client.settings.integrationIdentifier)" }

    func run() async throws {
        let stored = try? await catalog.stateValue(watermarkKey).flatMap(PortIntegration.date)
        try? await cancelWhenGracefulShutdown { try await poll(after: stored) }
    }

    /// Asks until cancelled; `stored` is the last request acted on before this start.
    private func poll(after stored: Date?) async throws {
        var watermark = stored
        let firstEver = stored == nil
        var first = true
        while !Task.isCancelled {
            if !first { try await Task.sleep(for: interval) }
            defer { first = false }
            let request: PortResyncRequest?
            do {
                request = try await port.latestResyncRequest()
            } catch {
                logger.warning("asking Port for resync requests failed", metadata: ["error": "\(error)"])
                continue
            }
            guard let request, watermark.map({ request.date > $0 }) ?? true else { continue }
            // On the very first start, the job at start already covers what was asked before it.
            if !(first && firstEver && resyncedOnStart) {
                mapping?.invalidate()
                do {
                    let (job, coalesced) = try await coordinator.request(.allKinds, trigger: .port)
                    logger.info("Port requested a resync", metadata: ["job.id": "\(job.id)", "port.request": "\(request.id)", "job.coalesced": "\(coalesced)"])
                } catch {
                    logger.warning("Port requested a resync that could not be queued", metadata: ["error": "\(error)"])
                    continue
                }
            }
            watermark = request.date
            do {
                try await catalog.setStateValue(request.updatedAt, for: watermarkKey)
            } catch {
                logger.error("storing Port's last resync request failed: a restart may run it again", metadata: ["error": "\(error)"])
            }
        }
    }
}

import Logging
import OceanCatalog
import ServiceLifecycle

/// Checks, every few seconds, that the catalog can still be written durably, and tells readiness:
/// with the catalog's folder removed, a full disk or a read-only file, `/health/ready` answers 503
/// with the reason (and deliveries are refused 503, never answered 202 and lost), until writes go
/// through again.
struct StorageWatch: Service, CustomStringConvertible {
    var description: String { "StorageWatch" }

    let catalog: CatalogStore
    let readiness: Readiness
    let interval: Duration
    let logger: Logger

    func run() async throws {
        var last: String?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let problem = await catalog.storageProblem()
            readiness.storageChecked(problem)
            if problem != last {
                if let problem {
                    logger.error("storage cannot be written: not ready", metadata: ["error": "\(problem)"])
                } else if last != nil {
                    logger.info("storage can be written again: ready")
                }
                last = problem
            }
            try? await Task.sleep(for: interval)
        }
    }
}

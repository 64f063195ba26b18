import OceanKit

/// The digest of what was last written of each entity (`EntityDigest`), so a resync can leave out
/// what did not change. Kept by the service (the catalog), whatever the destination.
///
/// Contract: `digests` returns, of the given identifiers, the ones with a digest recorded for the
/// integration and blueprint; `record` replaces digests; `forget` drops them (the entity was
/// deleted, or may differ from what was sent). Calls may come from several resources at once.
public protocol WriteDigests: Sendable {
    func digests(integration: String, blueprint: String, identifiers: [String]) async throws -> [String: String]
    func record(integration: String, blueprint: String, digests: [(identifier: String, digest: String)]) async throws
    func forget(integration: String, blueprint: String, identifiers: [String]) async throws
}

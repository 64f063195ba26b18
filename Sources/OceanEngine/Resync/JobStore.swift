import OceanKit



/// Where job history lives, so `GET /jobs` survives a restart.
///
/// Contract: `save` replaces the stored copy of a job (insert or update) and keeps at most `limit`
/// jobs, dropping the oldest finished ones; `load` returns the kept jobs, newest first.
public protocol JobStore: Sendable {
    func save(_ job: Job, limit: Int) async throws
    func load(limit: Int) async throws -> [Job]
}

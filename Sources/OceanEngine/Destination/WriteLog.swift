import OceanKit



/// What each job wrote, kept outside the destination so a destination that cannot tell (Port)
/// can still find the owned entities a job did not write, without holding them all in memory.
///
/// Contract: `record` remembers identifiers written by a job; `written` returns which of the given
/// identifiers the job wrote; `forget` drops a job's records.
public protocol WriteLog: Sendable {
    func record(jobID: String, blueprint: String, identifiers: [String]) async throws
    func written(jobID: String, blueprint: String, among identifiers: [String]) async throws -> Set<String>
    func forget(jobID: String) async throws
}

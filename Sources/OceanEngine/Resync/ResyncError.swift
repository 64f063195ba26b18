import OceanKit

/// Why the coordinator refused a request. The server maps each code to an HTTP status in one place.
public struct ResyncError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// No handler and no mapping resource for the kind.
        case unknownKind = "unknown_kind"
        /// No job with that id.
        case unknownJob = "unknown_job"
        /// The job already finished (it cannot be cancelled).
        case alreadyFinished = "already_finished"
        /// The service is stopping and takes no new jobs.
        case shuttingDown = "shutting_down"
        /// Resyncs are off (`OCEAN__EVENT_LISTENER__TYPE=WEBHOOKS_ONLY`).
        case disabled
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

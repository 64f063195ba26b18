public import Essentials

/// Why the coordinator refused a request.
public struct ResyncError: CodedError, Hashable {
    /// What was refused, as a value to compare (`error.code == .unknownKind`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unknownKind = "unknown_kind"
            case unknownJob = "unknown_job"
            case alreadyFinished = "already_finished"
            case shuttingDown = "shutting_down"
            case disabled
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }
        public var description: String { base.rawValue }

        /// No handler and no mapping resource for the kind.
        public static let unknownKind = Code(.unknownKind)
        /// No job with that id.
        public static let unknownJob = Code(.unknownJob)
        /// The job already finished (it cannot be cancelled).
        public static let alreadyFinished = Code(.alreadyFinished)
        /// The service is stopping and takes no new jobs.
        public static let shuttingDown = Code(.shuttingDown)
        /// Resyncs are off (`OCEAN__EVENT_LISTENER__TYPE=WEBHOOKS_ONLY`).
        public static let disabled = Code(.disabled)
    }

    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) { (self.code, self.message) = (code, message) }
}

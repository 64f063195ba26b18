public import Essentials

/// Why a delivery was refused, or a request about deliveries failed.
public struct WebhookError: CodedError, Hashable {
    /// What went wrong, as a value to compare (`error.code == .unauthenticated`); its description
    /// is the metrics' and logs' label (`unknown_path`, ...).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unknownPath = "unknown_path"
            case invalidJSON = "invalid_json"
            case unauthenticated
            case invalidPayload = "invalid_payload"
            case queueFull = "queue_full"
            case unknownDelivery = "unknown_delivery"
            case notReplayable = "not_replayable"
            case storeUnavailable = "store_unavailable"
            case stopped
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }
        public var description: String { base.rawValue }

        /// No processor is registered on the path.
        public static let unknownPath = Code(.unknownPath)
        /// The body is not JSON jq can read.
        public static let invalidJSON = Code(.invalidJSON)
        /// No processor authenticated the delivery.
        public static let unauthenticated = Code(.unauthenticated)
        /// The payload is not what the processor expects, or its records could not be mapped.
        public static let invalidPayload = Code(.invalidPayload)
        /// Too many deliveries wait: the sender should retry later.
        public static let queueFull = Code(.queueFull)
        /// No delivery with that id.
        public static let unknownDelivery = Code(.unknownDelivery)
        /// The delivery is still waiting for its turn: nothing to replay.
        public static let notReplayable = Code(.notReplayable)
        /// The delivery store failed (a full disk, a removed file).
        public static let storeUnavailable = Code(.storeUnavailable)
        /// The service is shutting down.
        public static let stopped = Code(.stopped)
    }

    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) { (self.code, self.message) = (code, message) }
}

public import Essentials

/// Why an `IntegrationTester` could not do what a test asked: a code to match on and a message
/// that says what to fix.
public struct IntegrationTestError: CodedError, Hashable {
    /// What went wrong, as a value to compare (`error.code == .invalidConfig`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidSpec = "invalid_spec"
            case invalidConfig = "invalid_config"
            case invalidMapping = "invalid_mapping"
            case startFailed = "start_failed"
            case requestRefused = "request_refused"
            case deliveryRefused = "delivery_refused"
            case timedOut = "timed_out"
            case engine
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The integration's spec does not parse.
        public static let invalidSpec = Code(.invalidSpec)
        /// The settings given do not satisfy the spec.
        public static let invalidConfig = Code(.invalidConfig)
        /// The mapping does not parse or an expression does not compile.
        public static let invalidMapping = Code(.invalidMapping)
        /// A start hook failed.
        public static let startFailed = Code(.startFailed)
        /// The coordinator refused the resync (an unknown kind).
        public static let requestRefused = Code(.requestRefused)
        /// The dispatcher refused the delivery (unknown path, not JSON, not authenticated, ...).
        public static let deliveryRefused = Code(.deliveryRefused)
        /// A delivery was not settled in time.
        public static let timedOut = Code(.timedOut)
        /// The catalog or the engine failed.
        public static let engine = Code(.engine)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) { (self.code, self.message) = (code, message) }

    public var description: String { "\(code): \(message)" }
}

public import Essentials

/// A jq failure: a compile error, a runtime error, bad JSON input, or an expression that is not jq.
public struct JQError: CodedError, Hashable {
    /// What kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Kind: String, Sendable {
            case compile = "jq_compile_error"
            case runtime = "jq_runtime_error"
            case invalidJSON = "invalid_json"
            case notJQ = "not_jq"
            case crashed = "jq_crashed"
            case timedOut = "jq_timed_out"
        }

        private let kind: Kind
        public var description: String { kind.rawValue }

        /// The program does not compile (syntax error, unknown function).
        public static let compile = Code(kind: .compile)
        /// The program raised an error on an input.
        public static let runtime = Code(kind: .runtime)
        /// The input is not valid JSON (or not valid UTF-8).
        public static let invalidJSON = Code(kind: .invalidJSON)
        /// The text is not a jq expression at all (for example GitLab's `file://README.md`).
        public static let notJQ = Code(kind: .notJQ)
        /// libjq trapped or aborted on the input (a libjq 1.6 defect): the program's state is gone,
        /// compile a new one.
        public static let crashed = Code(kind: .crashed)
        /// The evaluation ran past the time limit and was stopped (`JQProgram.timeLimit`): the
        /// program's state is gone, compile a new one.
        public static let timedOut = Code(kind: .timedOut)

        /// Whether the program that raised it can no longer be used.
        public var brokeTheProgram: Bool { kind == .crashed || kind == .timedOut }
    }

    public let code: Code
    /// jq's own message, without the `jq: error:` prefix and with lines counted in the user's text.
    public let message: String

    public init(_ code: Code, _ message: String) { (self.code, self.message) = (code, message) }
}

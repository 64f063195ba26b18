import CJQ
import CJQGuard

#if canImport(Glibc)
import Glibc
#endif

/// A compiled jq program: compile once (1.6 needs 20-30 ms), run on many inputs (microseconds).
///
/// A program owns a `jq_state`, which must never be used by two threads at once: give each worker
/// thread its own programs. It is not `Sendable` for that reason.
///
/// ```swift
/// let program = try JQProgram(".name | ascii_upcase")
/// let name = try program.first(try JQValue.parse(#"{"name":"ocean"}"#))   // "OCEAN"
/// ```
public final class JQProgram {
    private var state: OpaquePointer?
    /// The program as the user wrote it.
    public let source: String

    /// Compiles `source` in Ocean's dialect (`JQDialect`).
    public init(_ source: String, options: JQDialect.Options = .init()) throws(JQError) {
        self.source = source
        if let reason = JQProgram.notJQReason(source) {
            throw JQError(.notJQ, reason)
        }
        guard let state = jq_init() else { throw JQError(.compile, "jq_init failed (out of memory)") }
        let errors = CompileErrors()
        let unmanagedErrors = Unmanaged.passRetained(errors)
        defer { unmanagedErrors.release() }
        jq_set_error_cb(state, { context, message in
            let errors = Unmanaged<CompileErrors>.fromOpaque(context!).takeUnretainedValue()
            let formatted = JQValue(owning: jq_format_error(message))
            errors.messages.append(formatted.stringValue ?? "compile error")
        }, unmanagedErrors.toOpaque())
        let text = JQDialect.programText(source, options: options)
        let compiled = text.withCString { jq_compile(state, $0) }
        // Keep reporting nowhere once compiled: the collector is released below.
        jq_set_error_cb(state, { _, message in jv_free(message) }, nil)
        guard compiled != 0 else {
            var doomed: OpaquePointer? = state
            jq_teardown(&doomed)
            let userLines = source.split(separator: "\n", omittingEmptySubsequences: false).count
            throw JQError(.compile, JQProgram.cleanCompileMessage(errors.messages, userLines: userLines))
        }
        self.state = state
    }

    deinit {
        jq_teardown(&state)
    }

    /// Whether a fault inside libjq left this program unusable (see `JQError.Code.crashed`).
    public var isBroken: Bool { state == nil }

    /// The longest one step of an evaluation may take before it is stopped and the input fails
    /// with `timedOut` (process-wide; 5 s until set). libjq 1.6 loops for ever on some inputs.
    public static func setTimeLimit(_ limit: Duration?) {
        let milliseconds = limit.map { Int($0.components.seconds) * 1000 + Int($0.components.attoseconds / 1_000_000_000_000_000) } ?? 0
        swift_ocean_jq_set_time_limit(milliseconds)
    }

    /// Runs the program on `input`, calling `body` with each output until it returns false.
    /// A runtime error stops the run and is thrown after the outputs that came before it.
    ///
    /// Each libjq call runs guarded: a trap or abort inside libjq, or a step past the time limit,
    /// throws `crashed` or `timedOut` instead of ending the process, and leaves the program broken.
    public func run(_ input: consuming JQValue, _ body: (consuming JQValue) throws -> Bool) throws {
        guard let state else { throw JQError(.crashed, "this program was lost to an earlier libjq fault; compile it again") }
        var signal: Int32 = 0
        try check(swift_ocean_jq_start(state, input.take(), 0, &signal), signal: signal)
        while true {
            var next = jv_null()
            try check(swift_ocean_jq_next(state, &next, &signal), signal: signal)
            if jv_get_kind(next) != JV_KIND_INVALID {
                guard try body(JQValue(owning: next)) else { return }
                continue
            }
            if jv_invalid_has_msg(jv_copy(next)) != 0 {
                let message = JQValue(owning: jv_invalid_get_msg(next))
                throw JQError(.runtime, JQProgram.runtimeMessage(message))
            }
            jv_free(next)
            return
        }
    }

    /// Throws, and gives up the jq state (never used or freed again: it may be inconsistent), when
    /// a guarded call did not end normally.
    private func check(_ outcome: swift_ocean_jq_outcome, signal: Int32) throws(JQError) {
        switch outcome {
        case SWIFT_OCEAN_JQ_OK:
            return
        case SWIFT_OCEAN_JQ_TIMED_OUT:
            state = nil
            throw JQError(.timedOut, "jq ran past its time limit on this input and was stopped (a libjq 1.6 defect)")
        default:
            state = nil
            let name = JQProgram.signalName(signal)
            throw JQError(.crashed, "libjq 1.6 crashed on this input (\(name)); jq 1.8 evaluates it")
        }
    }

    private static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGFPE: "SIGFPE"
        case SIGSEGV: "SIGSEGV"
        case SIGBUS: "SIGBUS"
        case SIGILL: "SIGILL"
        case SIGABRT: "an assertion"
        default: "signal \(signal)"
        }
    }

    /// The first output, or nil when there is none. Later outputs are not computed.
    public func first(_ input: consuming JQValue) throws(JQError) -> JQValue? {
        var result: JQValue?
        do {
            try run(input) { (value: consuming JQValue) in
                result = consume value
                return false
            }
        } catch let error as JQError {
            throw error
        } catch {
            throw JQError(.runtime, "\(error)")
        }
        return result.take()
    }

    /// Every output, as JSON texts.
    public func outputs(_ input: consuming JQValue) throws -> [String] {
        var texts: [String] = []
        try run(input) { (value: consuming JQValue) in
            texts.append(value.jsonText())
            return true
        }
        return texts
    }

    /// Text that looks like a mapping value but is not jq (GitLab's `file://README.md` references).
    public static func notJQReason(_ source: String) -> String? {
        let trimmed = source.drop(while: \.isWhitespace)
        if trimmed.hasPrefix("file://") {
            return "\"\(source.prefix(80))\" is a file reference (an integration's own syntax), not a jq expression"
        }
        return nil
    }

    static func runtimeMessage(_ message: borrowing JQValue) -> String {
        if let text = message.stringValue { return text }
        return "\(message.jsonText()) (not a string)"
    }

    /// jq's messages count lines from the prelude (line 1) and echo the source; report them in the
    /// user's own lines, without the echo. An error on the wrapper's closing line means the user's
    /// expression ended too early.
    static func cleanCompileMessage(_ messages: [String], userLines: Int) -> String {
        let relevant = messages.filter { !$0.hasSuffix("compile error") && !$0.hasSuffix("compile errors") }
        let cleaned = (relevant.isEmpty ? messages : relevant).map { message -> String in
            var text = String(message.prefix { $0 != "\n" }).replacingPrefix("jq: error: ", with: "")
            text = text.replacingOccurrences(" (Unix shell quoting issues?)", with: "")
            text = text.shiftingLineNumbers(by: -1)
            if text.lineNumber.map({ $0 > userLines }) == true {
                text = text.replacingOccurrences("unexpected ')'", with: "unexpected end of the expression")
                text = text.replacingOccurrences("unexpected INVALID_CHARACTER", with: "unexpected end of the expression")
                text = text.replacingOccurrences("at <top-level>, line \(userLines + 1):", with: "at the end")
            }
            if text.hasSuffix(":") { text.removeLast() }
            return text
        }
        let joined = cleaned.joined(separator: "; ")
        return joined.isEmpty ? "the program does not compile" : joined
    }
}

/// Compile messages collected by jq's error callback.
private final class CompileErrors {
    var messages: [String] = []
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while !rest.isEmpty {
            if rest.hasPrefix(target) {
                result += replacement
                rest = rest.dropFirst(target.count)
            } else {
                result.append(rest.removeFirst())
            }
        }
        return result
    }

    /// The number after the last "line " in a jq message.
    fileprivate var lineNumber: Int? {
        var found: Int?
        var rest = Substring(self)
        while !rest.isEmpty {
            if rest.hasPrefix("line ") {
                rest = rest.dropFirst(5)
                found = Int(rest.prefix(while: \.isNumber)) ?? found
            } else {
                rest = rest.dropFirst()
            }
        }
        return found
    }

    fileprivate func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }

    /// Rewrites every "line N" to "line N+delta".
    fileprivate func shiftingLineNumbers(by delta: Int) -> String {
        var result = ""
        var rest = Substring(self)
        while !rest.isEmpty {
            if rest.hasPrefix("line ") {
                result += "line "
                rest = rest.dropFirst(5)
                let digits = rest.prefix(while: \.isNumber)
                if let number = Int(digits) {
                    result += String(max(1, number + delta))
                    rest = rest.dropFirst(digits.count)
                }
            } else {
                result.append(rest.removeFirst())
            }
        }
        return result
    }
}

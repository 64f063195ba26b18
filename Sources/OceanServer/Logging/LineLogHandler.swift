public import Essentials
public import Logging

#if canImport(Glibc)
import Glibc
#endif

/// swift-log's handler for the service: one line per message on standard error, as JSON (for log
/// collectors: `{"time","level","label","message", metadata...}`) or as readable text (on a
/// terminal), with every known secret scrubbed from the message and the metadata.
public struct LineLogHandler: LogHandler {
    /// How lines look.
    public enum Style: Sendable {
        case json
        case text
    }

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let style: Style
    private let redactor: SecretRedactor
    private let output: Int32

    /// Writes to standard error unless `output` names another descriptor.
    public init(label: String, style: Style, redactor: SecretRedactor, output: Int32 = 2) {
        self.label = label
        self.style = style
        self.redactor = redactor
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        switch style {
        case .json: appendJSON(event, merged, to: &line)
        case .text: line.append(contentsOf: textLine(event, merged).utf8)
        }
        // One writer at a time: a long line written in parts must not interleave with another.
        Self.writing.withLock { linesWritten in
            linesWritten &+= 1
            line.withUnsafeBufferPointer { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(output, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { return }
                    offset += written
                }
            }
        }
    }

    /// Held while a line is written; counts the lines. (A lock around an empty value was reported
    /// by ThreadSanitizer as racing with itself: the empty value has no storage of its own.)
    private static let writing = Locked<UInt64>(0)

    private func appendJSON(_ event: LogEvent, _ metadata: Logger.Metadata, to line: inout [UInt8]) {
        line.append(contentsOf: "{\"time\":\"\(Self.timestamp())\",\"level\":\"\(event.level.rawValue)\",\"label\":".utf8)
        JSONText.appendString(label, to: &line)
        line.append(contentsOf: ",\"message\":".utf8)
        JSONText.appendString(redactor.redact(event.message.description), to: &line)
        for key in metadata.keys.sorted() where !["time", "level", "label", "message"].contains(key) {
            line.append(UInt8(ascii: ","))
            JSONText.appendString(key, to: &line)
            line.append(UInt8(ascii: ":"))
            append(metadata[key]!, to: &line)
        }
        line.append(contentsOf: "}\n".utf8)
    }

    private func append(_ value: Logger.Metadata.Value, to line: inout [UInt8]) {
        switch value {
        case .string(let text): JSONText.appendString(redactor.redact(text), to: &line)
        case .stringConvertible(let convertible): JSONText.appendString(redactor.redact(convertible.description), to: &line)
        case .array(let values):
            line.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { line.append(UInt8(ascii: ",")) }
                append(element, to: &line)
            }
            line.append(UInt8(ascii: "]"))
        case .dictionary(let values):
            line.append(UInt8(ascii: "{"))
            for (index, key) in values.keys.sorted().enumerated() {
                if index > 0 { line.append(UInt8(ascii: ",")) }
                JSONText.appendString(key, to: &line)
                line.append(UInt8(ascii: ":"))
                append(values[key]!, to: &line)
            }
            line.append(UInt8(ascii: "}"))
        }
    }

    private func textLine(_ event: LogEvent, _ metadata: Logger.Metadata) -> String {
        var line = "\(Self.timestamp()) \(event.level.rawValue) \(label): \(redactor.redact(event.message.description))"
        for key in metadata.keys.sorted() {
            line += " \(key)=\(redactor.redact(metadata[key]!.description))"
        }
        return line + "\n"
    }

    /// UTC, milliseconds: `2026-11-29T04:00:00.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}

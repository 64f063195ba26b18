public import Essentials
import Foundation
public import Logging
import OceanKit
public import ServiceLifecycle

/// Ships the service's log lines to Port's log ingest (`OCEAN__SEND_LOGS_TO_PORT`): `handler`
/// takes each line (secrets masked) into a bounded buffer, and `run()` posts it every
/// `interval` to the integration record's `logAttributes.ingestUrl`. A full buffer drops new lines
/// (counted); Port failing loses a batch, never holds up the service.
public final class PortLogShipper: Service, CustomStringConvertible {
    public var description: String { "PortLogShipper" }

    private struct State {
        var lines: [JSON] = []
        var dropped = 0
        var ingestURL: String?
        var finished = false
    }

    /// Its own client; shut down by the owner. Its log lines are not shipped.
    public let client: PortClient
    private let redactor: SecretRedactor
    private let interval: Duration
    private let capacity: Int
    private let state = Locked(State())

    public init(client: PortClient, redactor: SecretRedactor, interval: Duration = .seconds(2), capacity: Int = 2000) {
        self.client = client
        self.redactor = redactor
        self.interval = interval
        self.capacity = capacity
    }

    /// The integration record's `logAttributes.ingestUrl` (nil: lines are kept until it is known,
    /// up to the buffer's size).
    public func useIngest(_ url: String?) {
        state.withLock { $0.ingestURL = url }
    }

    /// Lines dropped because the buffer was full.
    public var dropped: Int { state.withLock { $0.dropped } }

    /// A handler that takes the lines of `level` and above.
    public func handler(level: Logger.Level) -> any LogHandler {
        PortLogHandler(shipper: self, logLevel: level)
    }

    func take(level: Logger.Level, message: String, metadata: Logger.Metadata) {
        var extra = JSONObject()
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { extra[key] = .string(redactor.redact("\(value)")) }
        let line = JSON.object([
            "level": .string(level.rawValue.uppercased()), "message": .string(redactor.redact(message)),
            "timestamp": .string(PortSyncReporter.timestamp(Date())), "extra": .object(extra),
        ])
        state.withLock { state in
            if state.lines.count >= capacity || state.finished {
                state.dropped += 1
            } else {
                state.lines.append(line)
            }
        }
    }

    /// Posts the buffer every `interval` until a graceful shutdown, then once more.
    public func run() async {
        let interval = self.interval
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                await self.flush()
            }
        }
        await flush()
    }

    /// Posts what is buffered now.
    public func flush() async {
        let (lines, url) = state.withLock { state -> ([JSON], String?) in
            guard let url = state.ingestURL, !state.lines.isEmpty else { return ([], nil) }
            defer { state.lines = [] }
            return (state.lines, url)
        }
        guard let url, !lines.isEmpty else { return }
        let body = JSON.object(["logs": .array(lines)]).jsonText
        _ = try? await client.call("POST", url, body: Array(body.utf8))
    }
}

/// One shipper's handler: what a `Logger` writes through.
struct PortLogHandler: LogHandler {
    let shipper: PortLogShipper
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        shipper.take(level: event.level, message: event.message.description, metadata: metadata.merging(event.metadata ?? [:]) { $1 })
    }
}

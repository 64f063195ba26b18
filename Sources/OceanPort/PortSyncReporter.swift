public import Essentials
import Foundation
public import Logging
import OceanKit
public import OceanEngine
public import ServiceLifecycle

/// What Port's data-source page shows of the integration, sent as jobs go: the resync state (on
/// start and end, with `nextResync`), per-kind sync metrics (`pending`, `syncing`, then
/// `completed`, `failed` or `aborted`, with counts by phase; reconciliation as the pseudo-kind
/// `__reconciliation__`, the job as `__resync__`), a heartbeat every `heartbeatInterval` while a
/// job runs, and the first raw records of each kind as examples for Port's mapping editor.
///
/// Never in a job's way: every report goes into a bounded queue (full: dropped and counted) that
/// `run()` sends from, through a client whose retries are brief. The coordinator's calls return at once.
public final class PortSyncReporter: ResyncStateReporter, Service, CustomStringConvertible {
    /// What to send and how.
    public struct Settings: Sendable {
        /// The scheduled interval, reported as `nextResync` and `intervalInMinuets` (Port's spelling).
        public var interval: Duration?
        /// `OCEAN__SEND_RAW_DATA_EXAMPLES`: the first raw records of each kind (default true).
        public var sendExamples = true
        public var examplesPerKind = 5
        public var heartbeatInterval: Duration = .seconds(10)
        /// Reports waiting beyond which new ones are dropped.
        public var queueCapacity = 1000
        /// On shutdown, how long what is queued may still take to send.
        public var drainTime: Duration = .seconds(3)
        /// Values masked in examples.
        public var redactor = SecretRedactor()
        public var metrics = EngineMetrics.none

        public init() {}
    }

    public var description: String { "PortSyncReporter" }

    /// One call to Port.
    struct Report: Sendable {
        let method: String
        /// A path on Port's API, or an absolute URL (the metrics ingest).
        let target: String
        let body: [UInt8]
    }

    /// Its own client (brief retries); shut down by the owner.
    public let client: PortClient
    private let integrationPath: String
    private let settings: Settings
    private let logger: Logger
    private let stream: AsyncStream<Report>
    private let queue: AsyncStream<Report>.Continuation
    private struct State {
        var running: Set<String> = []
        var drainDeadline: ContinuousClock.Instant?
        var dropped = 0
        /// `metricAttributes.ingestUrl` of the integration's record (nil: no sync metrics).
        var metricsIngestURL: String?
    }
    private let state = Locked(State())

    /// `client` should retry briefly (its policy is the reporter's): a report is worth less than
    /// the time it would hold up the next one.
    public init(client: PortClient, settings: Settings, logger: Logger) {
        self.client = client
        self.settings = settings
        self.logger = logger
        integrationPath = "/v1/integration/\(PortSink.escape(client.settings.integrationIdentifier))"
        (stream, queue) = AsyncStream.makeStream(of: Report.self, bufferingPolicy: .bufferingOldest(settings.queueCapacity))
    }

    /// Where sync metrics and heartbeats go: the integration record's `metricAttributes.ingestUrl`
    /// (read at start; nil: none are sent).
    public func useMetricsIngest(_ url: String?) {
        state.withLock { $0.metricsIngestURL = url.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } }
    }

    private var metricsIngestURL: String? { state.withLock { $0.metricsIngestURL } }

    /// Reports dropped because the queue was full.
    public var dropped: Int { state.withLock { $0.dropped } }

    /// Sends what is queued until `finish()` or a graceful shutdown (then what is left, for at most
    /// `drainTime`), with a heartbeat for each running job.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.beat() }
            await withGracefulShutdownHandler {
                await self.send()
            } onGracefulShutdown: {
                self.finish()
            }
            group.cancelAll()
        }
    }

    /// No more reports: `run()` sends what is queued (for at most `drainTime`) and returns.
    public func finish() {
        state.withLock { if $0.drainDeadline == nil { $0.drainDeadline = .now + settings.drainTime } }
        queue.finish()
    }

    private func send() async {
        for await report in stream {
            if let deadline = state.withLock({ $0.drainDeadline }), ContinuousClock.now > deadline {
                settings.metrics.portReport("dropped")
                continue
            }
            do {
                let response = try await client.call(report.method, report.target, body: report.body)
                if response.isSuccess {
                    settings.metrics.portReport("sent")
                } else {
                    settings.metrics.portReport("failed")
                    logger.debug("Port refused a report", metadata: ["port.call": "\(report.method) \(Self.shown(report.target))", "port.status": "\(response.status)"])
                }
            } catch {
                settings.metrics.portReport("failed")
                logger.debug("a report to Port failed", metadata: ["port.call": "\(report.method) \(Self.shown(report.target))", "error": "\(error)"])
            }
        }
    }

    private func beat() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.heartbeatInterval)
            guard !Task.isCancelled, let ingest = metricsIngestURL else { continue }
            for job in state.withLock({ $0.running.sorted() }) {
                enqueue("POST", ingest + "/heartbeat", .object(["eventId": .string(job)]))
            }
        }
    }

    private func enqueue(_ method: String, _ target: String, _ body: JSON) {
        if case .dropped = queue.yield(Report(method: method, target: target, body: Array(body.jsonText.utf8))) {
            let first = state.withLock { state -> Bool in
                state.dropped += 1
                return state.dropped == 1
            }
            settings.metrics.portReport("dropped")
            if first { logger.warning("Port is not keeping up with reports: dropping some (see ocean_port_reports_total)") }
        }
    }

    /// An ingest URL shown without its query (which may carry a key).
    static func shown(_ target: String) -> String {
        String(target.prefix { $0 != "?" })
    }

    // MARK: ResyncStateReporter

    public func jobStarted(_ job: Job) async {
        state.withLock { _ = $0.running.insert(job.id) }
        enqueueState(status: "running", job: job)
    }

    public func resourcesPlanned(_ job: Job) async {
        guard let ingest = metricsIngestURL else { return }
        var events = job.progress.indices.map { event(job, position: $0, syncState: "pending") }
        events.append(pseudoEvent(job, kind: "__resync__", syncState: "syncing"))
        enqueue("POST", ingest + "/syncMetrics", .object(["syncKindsMetrics": .array(events)]))
    }

    public func resourceStarted(_ job: Job, position: Int) async {
        update(event(job, position: position, syncState: "syncing"))
    }

    public func resourceFinished(_ job: Job, position: Int) async {
        let syncState = switch job.progress[position].status {
        case .succeeded: "completed"
        case .cancelled: "aborted"
        default: "failed"
        }
        update(event(job, position: position, syncState: syncState))
    }

    public func reconciled(_ job: Job) async {
        let deleted = job.reconciliation.reduce(0) { $0 + $1.deleted }
        let skipped = job.reconciliation.filter { $0.skipped != nil }.count
        var event = pseudoEvent(job, kind: "__reconciliation__", syncState: skipped == 0 ? "completed" : "failed")
        if case .object(var fields) = event {
            fields["metrics"] = .object([
                "phase": .object(["delete": Self.counts(["deleted": deleted, "skipped": skipped])]),
                "success": .object(["value": .number(skipped == 0 ? 1 : 0)]),
            ])
            event = .object(fields)
        }
        update(event)
    }

    public func jobFinished(_ job: Job) async {
        state.withLock { _ = $0.running.remove(job.id) }
        let status = switch job.status {
        // A partial job finished (as Ocean reports it); its failures are in the sync metrics.
        case .succeeded, .partial: "completed"
        case .cancelled: "aborted"
        default: "failed"
        }
        update(pseudoEvent(job, kind: "__resync__", syncState: status))
        enqueueState(status: status, job: job)
    }

    public var examplesWanted: Int { settings.sendExamples ? settings.examplesPerKind : 0 }

    public func examples(_ records: [[UInt8]], job: Job, position: Int) async {
        let examples = records.compactMap { bytes -> JSON? in
            guard let record = try? JSONDecoder().decode(JSON.self, from: Data(bytes)) else { return nil }
            let masked = Self.masked(record)
            // A secret the settings know, wherever it sits in the record.
            return (try? JSONDecoder().decode(JSON.self, from: Data(settings.redactor.redact(masked.jsonText).utf8))) ?? masked
        }
        guard !examples.isEmpty else { return }
        let kind = PortSink.escape(job.progress[position].kind)
        enqueue("POST", integrationPath + "/kinds/\(kind)/examples", .object(["examples": .array(examples)]))
    }

    /// `value` with the values of fields named like secrets (`token`, `password`, ...) masked.
    static func masked(_ value: JSON) -> JSON {
        switch value {
        case .object(let object):
            var result = JSONObject()
            for (key, field) in object {
                result[key] = SecretRedactor.isSecretName(key) && field != .null ? .string(SecretRedactor.mask) : masked(field)
            }
            return .object(result)
        case .array(let elements):
            return .array(elements.map(masked))
        default:
            return value
        }
    }

    // MARK: Payloads

    private func enqueueState(status: String, job: Job) {
        var fields: JSONObject = ["status": .string(status)]
        if status == "running" {
            fields["lastResyncStart"] = .string(Self.timestamp(job.startedAt ?? Date()))
        } else {
            fields["lastResyncEnd"] = .string(Self.timestamp(job.finishedAt ?? Date()))
        }
        if let interval = settings.interval {
            fields["intervalInMinuets"] = .number(Double(Int(interval / .seconds(60))))
            fields["nextResync"] = .string(Self.timestamp(Date().addingTimeInterval(Double(interval / .seconds(1)))))
        }
        enqueue("PATCH", integrationPath + "/resync-state", .object(fields))
    }

    private func update(_ event: JSON) {
        guard let ingest = metricsIngestURL, let eventID = event["eventId"]?.stringValue, let kind = event["kindIdentifier"]?.stringValue else { return }
        enqueue("PUT", ingest + "/syncMetrics/resync/\(PortSink.escape(eventID))/kind/\(PortSink.escape(kind))", .object(["syncKindMetrics": event]))
    }

    private func header(_ job: Job, kind: String, kindIdentifier: String, kindIndex: Int, syncState: String) -> JSONObject {
        let port = client.settings
        return [
            "integrationType": .string(port.integrationType), "integrationIdentifier": .string(port.integrationIdentifier),
            "integrationVersion": .string(port.integrationVersion), "oceanVersion": .string("swift-ocean/" + SwiftOcean.frameworkVersion),
            "installationType": .string("OnPrem"), "kindIdentifier": .string(kindIdentifier), "kind": .string(kind),
            "kindIndex": .number(Double(kindIndex)), "eventId": .string(job.id), "syncState": .string(syncState),
        ]
    }

    private func pseudoEvent(_ job: Job, kind: String, syncState: String) -> JSON {
        var fields = header(job, kind: kind, kindIdentifier: kind, kindIndex: -1, syncState: syncState)
        let fetched = job.progress.reduce(0) { $0 + $1.fetched }
        let upserted = job.progress.reduce(0) { $0 + $1.upserted }
        let failed = job.progress.reduce(0) { $0 + $1.failed }
        fields["metrics"] = .object([
            "phase": .object([
                "extract": Self.counts(["raw_extracted": fetched]),
                "load": Self.counts(["loaded": upserted, "failed": failed]),
            ]),
            "duration_seconds": .object(["value": .number(Self.seconds(job.startedAt, job.finishedAt))]),
        ])
        return .object(fields)
    }

    private func event(_ job: Job, position: Int, syncState: String) -> JSON {
        let resource = job.progress[position]
        var fields = header(job, kind: resource.kind, kindIdentifier: "\(resource.kind)-\(resource.resourceIndex)",
                            kindIndex: resource.resourceIndex, syncState: syncState)
        if let blueprint = resource.blueprints.keys.sorted().first { fields["blueprint"] = .string(blueprint) }
        // `failed` counts records that failed to map and entities Port refused: the entities the
        // mapping made that were not written are the load failures, the rest failed before.
        let loadFailed = max(0, min(resource.failed, resource.mapped - resource.upserted))
        var metrics: JSONObject = [
            "phase": .object([
                "extract": Self.counts(["raw_extracted": resource.fetched, "failed": 0]),
                "transform": Self.counts(["transformed": resource.mapped, "filtered_out": resource.filtered, "failed": resource.failed - loadFailed]),
                "load": Self.counts(["loaded": resource.upserted, "failed": loadFailed, "skipped": 0]),
                "delete": Self.counts(["deleted": resource.deleted]),
            ]),
            "duration_seconds": .object(["value": .number(Self.seconds(resource.startedAt, resource.finishedAt))]),
        ]
        if syncState != "pending" && syncState != "syncing" {
            metrics["success"] = .object(["value": .number(syncState == "completed" ? 1 : 0)])
        }
        if let error = resource.error { fields["error"] = .string(settings.redactor.redact(error)) }
        fields["metrics"] = .object(metrics)
        return .object(fields)
    }

    /// `{"object_count_type": {label: {"object_count": n}, ...}}`, labels in the order given.
    static func counts(_ counts: KeyValuePairs<String, Int>) -> JSON {
        var types = JSONObject()
        for (label, count) in counts { types[label] = .object(["object_count": .number(Double(count))]) }
        return .object(["object_count_type": .object(types)])
    }

    static func seconds(_ start: Date?, _ end: Date?) -> Double {
        guard let start else { return 0 }
        return max(0, (end ?? Date()).timeIntervalSince(start))
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

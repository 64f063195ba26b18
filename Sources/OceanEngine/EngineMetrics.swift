import OceanKit
public import Metrics

/// The framework's metrics, through swift-metrics (the service exports them as Prometheus text).
/// Counters are counters; what can go down (queue depths, running jobs) is a gauge.
///
/// - `ocean_jobs_total{status}`: jobs finished, by final status.
/// - `ocean_jobs{status="queued"|"running"}`: jobs waiting and running now.
/// - `ocean_job_duration_seconds{status}`: how long finished jobs ran.
/// - `ocean_records_total{kind,outcome}`: records `fetched`, `filtered` out by the selector,
///   entities `upserted`, `unchanged` (not sent: written the same before), records `failed`, entities `deleted` (when one kind produces the blueprint).
/// - `ocean_webhook_deliveries_total{outcome}`: `accepted`, `duplicate`, `ignored`, `rejected_<reason>`,
///   `applied`, `retried`, `dead`.
/// - `ocean_webhook_queue_depth`: deliveries waiting to be applied.
/// - `ocean_webhook_apply_latency_seconds`: from acceptance to applied.
/// - `ocean_port_reports_total{outcome}`: reports to Port's control plane (resync state, sync
///   metrics, heartbeats, examples) `sent`, `failed` or `dropped` (the queue was full).
public struct EngineMetrics: Sendable {
    /// The series whose labels are known in advance, made once: a delivery or a job touches only
    /// these handles. Series by kind or rejection reason are looked up when they occur.
    private struct Handles: Sendable {
        let factory: any MetricsFactory
        let jobsQueued: Gauge
        let jobsRunning: Gauge
        let jobsFinished: [Job.Status: Counter]
        let jobDurations: [Job.Status: Metrics.Timer]
        let webhookOutcomes: [String: Counter]
        let webhookQueueDepth: Gauge
        let webhookLatency: Metrics.Timer
    }

    private static let finalStatuses: [Job.Status] = Job.Status.allCases.filter(\.isFinal)
    private static let webhookOutcomes = ["accepted", "duplicate", "ignored", "applied", "retried", "dead"]
    private let handles: Handles?

    /// No metrics: every call does nothing.
    public static let none = EngineMetrics(factory: nil)

    /// Metrics made by `factory`; every family is created at once (at 0) so a scrape always shows it.
    public init(factory: (any MetricsFactory)?) {
        guard let factory else {
            handles = nil
            return
        }
        func byStatus<Handle>(_ make: (String) -> Handle) -> [Job.Status: Handle] {
            Dictionary(uniqueKeysWithValues: Self.finalStatuses.map { ($0, make($0.rawValue)) })
        }
        handles = Handles(
            factory: factory,
            jobsQueued: Gauge(label: "ocean_jobs", dimensions: [("status", "queued")], factory: factory),
            jobsRunning: Gauge(label: "ocean_jobs", dimensions: [("status", "running")], factory: factory),
            jobsFinished: byStatus { Counter(label: "ocean_jobs_total", dimensions: [("status", $0)], factory: factory) },
            jobDurations: byStatus { Metrics.Timer(label: "ocean_job_duration_seconds", dimensions: [("status", $0)], factory: factory) },
            webhookOutcomes: Dictionary(uniqueKeysWithValues: Self.webhookOutcomes.map {
                ($0, Counter(label: "ocean_webhook_deliveries_total", dimensions: [("outcome", $0)], factory: factory))
            }),
            webhookQueueDepth: Gauge(label: "ocean_webhook_queue_depth", factory: factory),
            webhookLatency: Metrics.Timer(label: "ocean_webhook_apply_latency_seconds", factory: factory))
        for counter in handles!.jobsFinished.values { counter.increment(by: 0) }
        for counter in handles!.webhookOutcomes.values { counter.increment(by: 0) }
        for outcome in ["sent", "failed", "dropped"] {
            Counter(label: "ocean_port_reports_total", dimensions: [("outcome", outcome)], factory: factory).increment(by: 0)
        }
        for reason in ["threshold", "unclean", "unknown", "failed"] {
            Counter(label: "ocean_reconciliations_skipped_total", dimensions: [("reason", reason)], factory: factory).increment(by: 0)
        }
        jobsWaiting(queued: 0, running: 0)
        webhookQueueDepth(0)
    }

    func jobsWaiting(queued: Int, running: Int) {
        handles?.jobsQueued.record(queued)
        handles?.jobsRunning.record(running)
    }

    func jobFinished(status: Job.Status, duration: Duration) {
        handles?.jobsFinished[status]?.increment()
        handles?.jobDurations[status]?.record(duration: duration)
    }

    /// Counts of one batch (or one reconciliation) of `kind`.
    func records(kind: String, fetched: Int = 0, filtered: Int = 0, upserted: Int = 0, unchanged: Int = 0, failed: Int = 0, deleted: Int = 0) {
        guard let factory = handles?.factory else { return }
        for (outcome, count) in [("fetched", fetched), ("filtered", filtered), ("upserted", upserted), ("unchanged", unchanged), ("failed", failed), ("deleted", deleted)] where count > 0 {
            Counter(label: "ocean_records_total", dimensions: [("kind", kind), ("outcome", outcome)], factory: factory).increment(by: count)
        }
    }

    /// A delivery's outcome: one of the fixed ones, or `rejected_<reason>`.
    func webhook(_ outcome: String) {
        guard let handles else { return }
        if let counter = handles.webhookOutcomes[outcome] {
            counter.increment()
        } else {
            Counter(label: "ocean_webhook_deliveries_total", dimensions: [("outcome", outcome)], factory: handles.factory).increment()
        }
    }

    /// A blueprint's reconciliation deleted nothing because `reason` (`threshold`: too many stale;
    /// `unclean`: a resource producing it failed or had failed records; `unknown`: what was owned
    /// could not be read; `failed`: listing or deleting failed) — so a job that "succeeded" while
    /// its deletions were held back can be alerted on.
    func reconciliationSkipped(reason: String) {
        guard let factory = handles?.factory else { return }
        Counter(label: "ocean_reconciliations_skipped_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// A report to Port's control plane: `sent`, `failed` or `dropped`.
    public func portReport(_ outcome: String) {
        guard let factory = handles?.factory else { return }
        Counter(label: "ocean_port_reports_total", dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    func webhookQueueDepth(_ depth: Int) {
        handles?.webhookQueueDepth.record(depth)
    }

    func webhookApplied(after latency: Duration) {
        webhook("applied")
        handles?.webhookLatency.record(duration: latency)
    }
}

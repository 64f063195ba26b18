public import Metrics

/// The framework's metrics, through swift-metrics (the service exports them as Prometheus text).
/// Counters are counters; what can go down (queue depths, running jobs) is a gauge.
///
/// - `ocean_jobs_total{status}`: jobs finished, by final status.
/// - `ocean_jobs{status="queued"|"running"}`: jobs waiting and running now.
/// - `ocean_job_duration_seconds{status}`: how long finished jobs ran.
/// - `ocean_records_total{kind,outcome}`: records `fetched`, `filtered` out by the selector,
///   entities `upserted`, records `failed`, entities `deleted` (when one kind produces the blueprint).
/// - `ocean_webhook_deliveries_total{outcome}`: `accepted`, `ignored`, `rejected_<reason>`,
///   `applied`, `retried`, `dead`.
/// - `ocean_webhook_queue_depth`: deliveries waiting to be applied.
/// - `ocean_webhook_apply_latency_seconds`: from acceptance to applied.
public struct OceanMetrics: Sendable {
    private let factory: (any MetricsFactory)?

    /// No metrics: every call does nothing.
    public static let none = OceanMetrics(factory: nil)

    /// Metrics made by `factory`; the families that exist before anything happens are created at 0
    /// so a scrape always shows them.
    public init(factory: (any MetricsFactory)?) {
        self.factory = factory
        guard let factory else { return }
        for status in ["succeeded", "failed", "cancelled"] {
            counter("ocean_jobs_total", [("status", status)])?.increment(by: 0)
            _ = Metrics.Timer(label: "ocean_job_duration_seconds", dimensions: [("status", status)], factory: factory)
        }
        _ = Metrics.Timer(label: "ocean_webhook_apply_latency_seconds", factory: factory)
        jobsWaiting(queued: 0, running: 0)
        for outcome in ["accepted", "ignored", "applied", "retried", "dead"] {
            counter("ocean_webhook_deliveries_total", [("outcome", outcome)])?.increment(by: 0)
        }
        webhookQueueDepth(0)
    }

    func jobsWaiting(queued: Int, running: Int) {
        guard let factory else { return }
        Gauge(label: "ocean_jobs", dimensions: [("status", "queued")], factory: factory).record(queued)
        Gauge(label: "ocean_jobs", dimensions: [("status", "running")], factory: factory).record(running)
    }

    func jobFinished(status: Job.Status, duration: Duration) {
        guard let factory else { return }
        counter("ocean_jobs_total", [("status", status.rawValue)])?.increment()
        Metrics.Timer(label: "ocean_job_duration_seconds", dimensions: [("status", status.rawValue)], factory: factory)
            .record(duration: duration)
    }

    func records(kind: String, fetched: Int = 0, filtered: Int = 0, upserted: Int = 0, failed: Int = 0, deleted: Int = 0) {
        guard factory != nil else { return }
        for (outcome, count) in [("fetched", fetched), ("filtered", filtered), ("upserted", upserted), ("failed", failed), ("deleted", deleted)] where count > 0 {
            counter("ocean_records_total", [("kind", kind), ("outcome", outcome)])?.increment(by: count)
        }
    }

    func webhook(_ outcome: String) {
        counter("ocean_webhook_deliveries_total", [("outcome", outcome)])?.increment()
    }

    func webhookQueueDepth(_ depth: Int) {
        guard let factory else { return }
        Gauge(label: "ocean_webhook_queue_depth", factory: factory).record(depth)
    }

    func webhookApplied(after latency: Duration) {
        guard let factory else { return }
        webhook("applied")
        Metrics.Timer(label: "ocean_webhook_apply_latency_seconds", factory: factory).record(duration: latency)
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter? {
        factory.map { Counter(label: label, dimensions: dimensions, factory: $0) }
    }
}

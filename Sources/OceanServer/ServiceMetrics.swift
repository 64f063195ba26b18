import EventHTTP
public import Metrics
public import Prometheus

/// The service's metrics: one Prometheus registry per application (no global state, so several
/// applications in one process, as in the tests, keep theirs apart), fed through swift-metrics by the
/// HTTP server, the coordinator and the webhook dispatcher.
public struct ServiceMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// What the libraries are given; nil when metrics are off (`OCEAN__METRICS__ENABLED=false`):
    /// then nothing is counted anywhere.
    public let factory: (any MetricsFactory)?

    public init(enabled: Bool = true) {
        guard enabled else {
            factory = nil
            return
        }
        var factory = PrometheusMetricsFactory(registry: registry)
        // Requests are fast (sub-millisecond); jobs take seconds to hours.
        // Few buckets: each is a comparison on every request.
        factory.durationHistogramBuckets["http_request_duration_seconds"] = [
            .microseconds(250), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
            .milliseconds(500), .seconds(2), .seconds(10),
        ]
        factory.durationHistogramBuckets["ocean_job_duration_seconds"] = [
            .milliseconds(100), .seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300), .seconds(900),
            .seconds(3600), .seconds(4 * 3600), .seconds(24 * 3600),
        ]
        factory.durationHistogramBuckets["ocean_webhook_apply_latency_seconds"] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30), .seconds(300),
        ]
        self.factory = factory
    }

    /// `GET /metrics`: Prometheus text (open like the health checks: no values in it are secret).
    var routes: [Route] {
        let registry = self.registry
        let enabled = factory != nil
        return [
            Route(.get, "/metrics", handler: .immediate { _ in
                guard enabled else {
                    return .error(HTTPError(.notFound, "metrics are off (OCEAN__METRICS__ENABLED=false)"))
                }
                var headers = HTTPHeaders()
                headers.add("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                return HTTPResponse(status: .ok, headers: headers, body: registry.emitToBuffer())
            }),
        ]
    }
}

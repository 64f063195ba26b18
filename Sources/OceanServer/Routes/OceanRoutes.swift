import EventHTTP
import OceanKit

/// The service's HTTP routes. `openapi.yaml` describes exactly these (a test compares the two).
enum OceanRoutes {
    static func make(readiness: Readiness, resync: ResyncRoutes, webhooks: WebhookRoutes, metrics: ServiceMetrics) -> [Route] {
        HealthRoutes(readiness: readiness).routes + metrics.routes + resync.routes + webhooks.routes
    }
}

/// `GET /health`, `/health/live` and `/health/ready`: answered on the loop thread, no allocation
/// beyond the reply, never blocked by anything else the service is doing.
struct HealthRoutes {
    let readiness: Readiness

    // Built once: answering a probe only retains them.
    private static let liveResponse = HTTPResponse.json(.ok, body: Array(#"{"status":"ok"}"#.utf8))
    private static let readyResponse = HTTPResponse.json(.ok, body: Array(#"{"status":"ready"}"#.utf8))

    var routes: [Route] {
        let live = RouteHandler.immediate { _ in HealthRoutes.liveResponse }
        let readiness = self.readiness
        return [
            Route(.get, "/health", handler: live),
            Route(.get, "/health/live", handler: live),
            Route(.get, "/health/ready", handler: .immediate { _ in
                let phase = readiness.current
                guard phase == .ready else {
                    return .error(HTTPError(.unavailable, "the service is \(phase.rawValue)", headers: ["Retry-After": "1"]))
                }
                if let problem = readiness.storageProblem {
                    return .error(HTTPError(.unavailable, problem, headers: ["Retry-After": "5"]))
                }
                let failed = readiness.failedStartSteps
                guard failed.isEmpty else {
                    // Ready (jobs and webhooks run), with what is being retried for a person to see.
                    let body = JSON.object(["status": .string("ready"), "failedStartSteps": .object(JSONObject(failed.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }))])
                    return .json(.ok, body: Array(body.jsonText.utf8))
                }
                return HealthRoutes.readyResponse
            }),
        ]
    }
}

import Logging
import Metrics

#if canImport(Glibc)
import Glibc
#endif

/// What a loop records of each request it answers: `http_requests_total{method,route,status}` and
/// `http_request_duration_seconds{route}` (route = the matched pattern, so ids in paths do not make
/// new series; `unmatched` for 404s and 405s), and one debug log line with the request id.
///
/// One per loop and used on that loop's thread only, so its cache of metric handles needs no lock.
final class RequestObserver {
    /// A request being answered: what the observer needs when its reply is sent.
    struct Started {
        let method: HTTPMethod?
        let route: String
        let path: String
        let startNanoseconds: UInt64
    }

    private struct SeriesKey: Hashable {
        let method: HTTPMethod?
        let route: String
        let status: Int
    }

    private let factory: (any MetricsFactory)?
    private let logger: Logger
    private let logsRequests: Bool
    private var counters: [SeriesKey: Counter] = [:]
    private var timers: [String: Metrics.Timer] = [:]

    init(factory: (any MetricsFactory)?, logger: Logger) {
        self.factory = factory
        self.logger = logger
        logsRequests = logger.logLevel <= .debug
    }

    /// Monotonic nanoseconds, for durations.
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Records the reply `status` to `started`.
    func answered(_ started: Started, status: Int, requestID: String) {
        let elapsed = Self.now() &- started.startNanoseconds
        if let factory {
            let key = SeriesKey(method: started.method, route: started.route, status: status)
            let counter = counters[key] ?? {
                let made = Counter(label: "http_requests_total", dimensions: [
                    ("method", started.method?.rawValue ?? "OTHER"), ("route", started.route), ("status", String(status)),
                ], factory: factory)
                counters[key] = made
                return made
            }()
            counter.increment()
            let timer = timers[started.route] ?? {
                let made = Metrics.Timer(label: "http_request_duration_seconds", dimensions: [("route", started.route)], factory: factory)
                timers[started.route] = made
                return made
            }()
            timer.recordNanoseconds(Int64(elapsed))
        }
        if logsRequests {
            logger.debug("request answered", metadata: [
                "request.id": "\(requestID)", "http.method": "\(started.method?.rawValue ?? "OTHER")",
                "http.route": "\(started.route)", "http.path": "\(started.path.prefix(200))", "http.status": "\(status)",
                "http.duration_ms": "\(Double(elapsed / 1000) / 1000)",
            ])
        }
    }
}

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
        /// The matched route's index, nil when none matched.
        let routeIndex: Int?
        let route: String
        let path: String
        let startNanoseconds: UInt64
    }

    /// One route's metric handles (and a method's, for the unmatched): a request finds them by index
    /// and a short scan of the statuses seen, with no hashing on the hot path.
    private final class Series {
        let timer: Metrics.Timer
        var counters: [(method: HTTPMethod?, status: Int, counter: Counter)] = []

        init(timer: Metrics.Timer) {
            self.timer = timer
        }
    }

    private let factory: (any MetricsFactory)?
    private let logger: Logger
    private let logsRequests: Bool
    /// By route index; the last slot is for requests no route matched.
    private var series: [Series?]

    init(factory: (any MetricsFactory)?, logger: Logger, routeCount: Int) {
        self.factory = factory
        self.logger = logger
        logsRequests = logger.logLevel <= .debug
        series = Array(repeating: nil, count: routeCount + 1)
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
            let slot = started.routeIndex ?? series.count - 1
            let routeSeries = series[slot] ?? {
                let made = Series(timer: Metrics.Timer(
                    label: "http_request_duration_seconds", dimensions: [("route", started.route)], factory: factory))
                series[slot] = made
                return made
            }()
            if let entry = routeSeries.counters.first(where: { $0.status == status && $0.method == started.method }) {
                entry.counter.increment()
            } else {
                let counter = Counter(label: "http_requests_total", dimensions: [
                    ("method", started.method?.rawValue ?? "OTHER"), ("route", started.route), ("status", String(status)),
                ], factory: factory)
                routeSeries.counters.append((started.method, status, counter))
                counter.increment()
            }
            routeSeries.timer.recordNanoseconds(Int64(elapsed))
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

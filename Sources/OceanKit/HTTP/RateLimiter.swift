import Essentials

/// A token bucket: at most `perSecond` permits a second on average, `burst` at once.
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    public let perSecond: Double
    public let burst: Int
    private let bucket: Locked<Bucket>

    public init(perSecond: Double, burst: Int = 1) {
        self.perSecond = max(0.001, perSecond)
        self.burst = max(1, burst)
        bucket = Locked(Bucket(tokens: Double(max(1, burst)), updated: .now))
    }

    /// Waits until a permit is available and takes it.
    public func wait() async throws {
        while true {
            let delay = bucket.withLock { bucket -> Duration? in
                let now = ContinuousClock.now
                let elapsed = Double((now - bucket.updated) / .microseconds(1)) / 1_000_000
                bucket.tokens = min(Double(burst), bucket.tokens + elapsed * perSecond)
                bucket.updated = now
                if bucket.tokens >= 1 {
                    bucket.tokens -= 1
                    return nil
                }
                return .microseconds(Int((1 - bucket.tokens) / perSecond * 1_000_000) + 1)
            }
            guard let delay else { return }
            try await Task.sleep(for: delay)
        }
    }
}

import FoundationEssentials

/// How a processor's failures are retried before the delivery is declared dead.
public struct WebhookRetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included (as `RetryPolicy.maxAttempts` counts): a delivery whose
    /// last attempt failed is dead.
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(maxAttempts: Int = 6, initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(300)) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// The wait after failed attempt number `attempt` (1-based): doubling, capped.
    public func delay(afterAttempt attempt: Int) -> Duration {
        min(maxBackoff, initialBackoff * Int(1 << min(max(0, attempt - 1), 20)))
    }
}

import FoundationEssentials

/// How a processor's failures are retried before the delivery is declared dead.
public struct WebhookRetryPolicy: Sendable, Hashable {
    /// Retries after the first attempt.
    public var maxRetries: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(maxRetries: Int = 5, initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(300)) {
        self.maxRetries = maxRetries
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// The wait after failed attempt number `attempt` (1-based): doubling, capped.
    public func delay(afterAttempt attempt: Int) -> Duration {
        min(maxBackoff, initialBackoff * Int(1 << min(max(0, attempt - 1), 20)))
    }
}

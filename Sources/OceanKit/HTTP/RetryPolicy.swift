/// How transient failures are retried: jittered exponential backoff, `Retry-After` honoured, and a
/// total time budget after which the call gives up.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// Statuses worth another try (Ocean retries 408, 429, 502-504; 500 too here).
    public var retryableStatuses: Set<Int>
    /// The longest `Retry-After` obeyed; a longer one gives up at once.
    public var maxRetryAfter: Duration
    /// No retry starts after this much time since the first attempt.
    public var budget: Duration

    public init(
        maxAttempts: Int = 6, initialBackoff: Duration = .milliseconds(200), maxBackoff: Duration = .seconds(10),
        retryableStatuses: Set<Int> = [408, 429, 500, 502, 503, 504], maxRetryAfter: Duration = .seconds(120),
        budget: Duration = .seconds(300)
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.retryableStatuses = retryableStatuses
        self.maxRetryAfter = maxRetryAfter
        self.budget = budget
    }

    /// The wait before attempt `attempt + 1` (full jitter), or what the server asked for.
    func delay(afterAttempt attempt: Int, retryAfter: Duration?) -> Duration {
        if let retryAfter { return retryAfter }
        let ceiling = min(maxBackoff, initialBackoff * Int(1 << min(attempt, 20)))
        let milliseconds = Int(ceiling / .milliseconds(1))
        return .milliseconds(Int.random(in: milliseconds / 2...max(milliseconds / 2, milliseconds)))
    }
}

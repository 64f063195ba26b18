import FoundationEssentials

/// A webhook delivery as processors see it: the path it came to, its headers, the raw body (for
/// signatures) and the parsed payload.
public struct WebhookEvent: Sendable {
    /// The path after `/integration` (`/webhook`).
    public let path: String
    /// Header fields, names lower-cased.
    public let headers: [String: String]
    public let rawBody: [UInt8]
    public let payload: JSON

    public init(path: String, headers: [String: String], rawBody: [UInt8], payload: JSON) {
        self.path = path
        self.headers = headers
        self.rawBody = rawBody
        self.payload = payload
    }
}

/// What a processor wants changed: raw records of the third-party API, mapped with the kind's
/// mapping like resync records. Updated records that pass the selector are upserted; those that do
/// not, and deleted records, have their entities deleted (as in Ocean).
public struct WebhookResults: Sendable {
    public var updated: [JSON]
    public var deleted: [JSON]

    public init(updated: [JSON] = [], deleted: [JSON] = []) {
        self.updated = updated
        self.deleted = deleted
    }
}

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

/// Turns webhook deliveries into changes, as Ocean's `AbstractWebhookProcessor` does.
///
/// Contract: `shouldProcess` and `matchingKinds` are cheap and pure. `authenticate` and `validate`
/// run **before** the delivery is answered: a delivery that no matching processor authenticates is
/// refused with 401 and never stored (fail closed: a processor that needs a secret and has none must
/// refuse). `handle` runs later, from the durable queue, once per matching kind's resource; it may
/// be retried, so it must be safe to run again. Events with the same `orderingKey` are handled in
/// the order they were accepted; different keys run in parallel. Every method but `handle` runs
/// while the sender waits for its answer, outside the dispatcher, so several deliveries are checked
/// at once.
public protocol WebhookProcessor: Sendable {
    func shouldProcess(_ event: WebhookEvent) -> Bool
    func matchingKinds(_ event: WebhookEvent) -> [String]
    func authenticate(_ event: WebhookEvent, config: IntegrationConfig) -> Bool
    func validate(_ event: WebhookEvent) -> Bool
    func handle(_ event: WebhookEvent, resource: ResourceConfig) async throws -> WebhookResults
    var retryPolicy: WebhookRetryPolicy { get }
    func orderingKey(_ event: WebhookEvent) -> String
    /// What makes two deliveries the same delivery (a sender's retry): a delivery whose key was
    /// accepted before is answered with the first one's id and not applied again. nil: no key.
    func idempotencyKey(_ event: WebhookEvent) -> String?
}

extension WebhookProcessor {
    public func shouldProcess(_ event: WebhookEvent) -> Bool { true }
    public func validate(_ event: WebhookEvent) -> Bool { true }
    public var retryPolicy: WebhookRetryPolicy { WebhookRetryPolicy() }
    public func orderingKey(_ event: WebhookEvent) -> String { event.path }

    /// The delivery id senders put in a header: GitHub's `X-GitHub-Delivery`, GitLab's
    /// `X-Gitlab-Event-UUID`, Atlassian's `X-Atlassian-Webhook-Identifier`, Bitbucket's
    /// `X-Request-UUID`, or a generic `Idempotency-Key`.
    public func idempotencyKey(_ event: WebhookEvent) -> String? {
        for name in WebhookEvent.deliveryIDHeaders {
            if let value = event.headers[name], !value.isEmpty { return value }
        }
        return nil
    }
}

extension WebhookEvent {
    /// Headers that carry a sender's delivery id (lower-cased, as `headers` has them).
    public static let deliveryIDHeaders = [
        "x-github-delivery", "x-gitlab-event-uuid", "x-atlassian-webhook-identifier", "x-request-uuid", "idempotency-key",
    ]
}

import FoundationEssentials

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

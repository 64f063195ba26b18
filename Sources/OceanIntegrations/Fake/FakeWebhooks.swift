import Foundation
public import OceanKit

/// The fake integration's webhook processor on `/webhook`: person upserts and deletions, signed
/// GitHub-style (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`) with
/// `OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET`. Body: `{"action": "upsert"|"delete", "person": {...}}`.
///
/// Fails closed: without a secret every delivery is refused, unless
/// `OCEAN__INTEGRATION__CONFIG__WEBHOOK_INSECURE=true` says unsigned deliveries are fine.
public struct FakePersonWebhook: WebhookProcessor {
    public init() {}

    public func shouldProcess(_ event: WebhookEvent) -> Bool {
        event.payload.objectValue?["person"] != nil
    }

    public func matchingKinds(_ event: WebhookEvent) -> [String] {
        [FakeIntegration.ObjectKind.person.rawValue]
    }

    public func authenticate(_ event: WebhookEvent, config: IntegrationConfig) -> Bool {
        guard let secret = config.string("webhook_secret") else {
            return (try? config.bool("webhook_insecure", default: false)) ?? false
        }
        guard let header = event.headers["x-hub-signature-256"], header.hasPrefix("sha256=") else { return false }
        return WebhookSignature.matches(header: header, body: event.rawBody, secret: secret)
    }

    public func validate(_ event: WebhookEvent) -> Bool {
        guard let payload = event.payload.objectValue,
              let action = payload["action"]?.stringValue, action == "upsert" || action == "delete",
              let person = payload["person"]?.objectValue, let id = person["id"]?.stringValue, !id.isEmpty
        else { return false }
        return true
    }

    public func handle(_ event: WebhookEvent, resource: ResourceConfig) async throws -> WebhookResults {
        guard let payload = event.payload.objectValue, let person = payload["person"] else { return WebhookResults() }
        return payload["action"]?.stringValue == "delete" ? WebhookResults(deleted: [person]) : WebhookResults(updated: [person])
    }

    /// Events about one person are applied in order.
    public func orderingKey(_ event: WebhookEvent) -> String {
        event.payload.objectValue?["person"]?.objectValue?["id"]?.stringValue ?? event.path
    }
}

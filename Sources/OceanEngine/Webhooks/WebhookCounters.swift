import OceanKit
import Essentials
import FoundationEssentials
import JQ
import Logging

/// Counters for the metrics endpoint.
public struct WebhookCounters: Sendable, Hashable {
    public var accepted = 0
    public var ignored = 0
    /// By reason (`unknown_path`, `invalid_json`, `unauthenticated`, `invalid_payload`, `queue_full`).
    public var rejected: [String: Int] = [:]
    public var processed = 0
    public var retried = 0
    public var dead = 0
    /// Deliveries answered with an earlier delivery's id (a sender's retry).
    public var duplicates = 0
}

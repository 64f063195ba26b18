import OceanKit
import Essentials
import FoundationEssentials
import JQ
import Logging

/// A delivery that was not refused.
public struct WebhookAcceptance: Sendable, Hashable {
    /// The delivery's id (for a duplicate, the first delivery's; for an ignored one, an id that was
    /// never stored, for the sender's log).
    public let id: String
    /// No processor wanted the delivery: it was not stored.
    public let ignored: Bool
    /// The same delivery was accepted before: not stored or applied again.
    public let duplicate: Bool
}

import FoundationEssentials

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

public import OceanKit

/// The integrations shipped with swift-ocean, by `OCEAN__INTEGRATION__TYPE`.
public enum BuiltInIntegrations {
    public static let types = ["fake", "jsonl"]

    /// A new instance of the integration `type`, or nil when there is none by that name.
    public static func make(type: String) -> OceanIntegration? {
        switch type {
        case "fake": FakeIntegration.make()
        case "jsonl": JSONLinesIntegration.make()
        default: nil
        }
    }
}

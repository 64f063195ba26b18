/// swift-ocean itself.
public enum SwiftOcean {
    /// The framework's version: with an integration's own, what Port sees in the ownership marker
    /// (`port-ocean/<type>/<version>+swift-ocean.<framework>/<identifier>/exporter`).
    public static let frameworkVersion = "0.12.0"

    /// `version` with the framework's as build metadata (`1.4.0+swift-ocean.0.12.0`): a version Port
    /// shows, and which says both what the integration is and what runs it.
    public static func reportedVersion(of version: String) -> String {
        version == frameworkVersion ? version : version + "+swift-ocean." + frameworkVersion
    }
}

import OceanKit
import Testing

@Suite("the version Port sees")
struct VersionTests {
    @Test("an integration's own version carries swift-ocean's as build metadata; the built-ins report the framework's")
    func reportedVersion() {
        #expect(SwiftOcean.reportedVersion(of: "1.4.0") == "1.4.0+swift-ocean.\(SwiftOcean.frameworkVersion)")
        #expect(SwiftOcean.reportedVersion(of: SwiftOcean.frameworkVersion) == SwiftOcean.frameworkVersion)
        #expect(OceanIntegration(type: "jira", version: "2.0.1").version == "2.0.1")
        #expect(OceanIntegration(type: "fake").version == SwiftOcean.frameworkVersion)
    }
}

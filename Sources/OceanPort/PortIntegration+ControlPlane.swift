public import Foundation
import OceanKit

/// How Port drives the integration: provisioning marks, the default mapping, resync requests and
/// the changelog destination.
extension PortIntegration {
    /// Sets `arePortResourcesInitialized`.
    public func markResourcesInitialized(_ value: Bool) async throws {
        _ = try await client.callExpectingSuccess("PATCH", path, body: Array(#"{"arePortResourcesInitialized":\#(value)}"#.utf8))
    }

    /// Saves `mappingText` as the integration's mapping in Port (`PATCH .../config`).
    public func saveMapping(_ mappingText: String) async throws {
        let config = try JSON.parseYAML(mappingText)
        let body = JSON.object(["config": config]).jsonText
        _ = try await client.callExpectingSuccess("PATCH", path + "/config", body: Array(body.utf8))
    }

    /// The latest resync request Port holds, nil when there is none.
    public func latestResyncRequest() async throws -> PortResyncRequest? {
        let response = try await client.callExpectingSuccess("GET", path + "/resync-request")
        guard let document = try? JSONDecoder().decode(JSON.self, from: Data(response.body)) else {
            throw PortError(status: response.status, message: "Port's resync-request answer is not JSON")
        }
        guard let request = document["request"], request != .null else { return nil }
        guard let updatedAt = request["updatedAt"]?.stringValue, let date = Self.date(updatedAt) else {
            throw PortError(status: response.status, message: "Port's resync request has no readable updatedAt")
        }
        return PortResyncRequest(id: request["id"]?.settingText ?? "", updatedAt: updatedAt, date: date)
    }

    /// Registers `url` with Port as where it calls when a resync is requested (the WEBHOOK listener).
    public func registerChangelogDestination(_ url: String) async throws {
        let body = JSON.object(["changelogDestination": .object(["type": .string("WEBHOOK"), "url": .string(url)])]).jsonText
        _ = try await client.callExpectingSuccess("PATCH", path, body: Array(body.utf8))
    }

    /// A date as Port writes them (ISO 8601, with or without fractional seconds).
    public static func date(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}

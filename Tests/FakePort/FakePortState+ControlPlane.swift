import EventHTTP
import Foundation
import TestSupport

/// How Port drives an integration (resync requests, the changelog destination) and what it sees of
/// it (sync metrics, heartbeats, examples, logs); and the controls that act as a Port user.
extension FakePortState {
    func resyncRequest(_ request: HTTPRequest) throws -> HTTPResponse {
        guard integration?.value["identifier"] as? String == request.pathParameters["id"] else {
            return try Self.json(404, ["ok": false, "error": "not_found"])
        }
        return try Self.json(200, ["ok": true, "request": resyncRequest?.value ?? NSNull()])
    }

    func examples(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let examples = try Self.object(request)["examples"] as? [Any] else {
            return try Self.json(422, ["ok": false, "error": "examples must be an array"])
        }
        examplesByKind[request.pathParameters["kind"] ?? ""] = JSONValueBox(examples)
        return try Self.json(200, ["ok": true])
    }

    func syncMetricsStarted(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let events = try Self.object(request)["syncKindsMetrics"] as? [[String: Any]] else {
            return try Self.json(422, ["ok": false, "error": "syncKindsMetrics must be an array"])
        }
        syncMetrics += events.map(JSONBox.init)
        return try Self.json(200, ["ok": true])
    }

    func syncMetricsUpdated(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let event = try Self.object(request)["syncKindMetrics"] as? [String: Any] else {
            return try Self.json(422, ["ok": false, "error": "syncKindMetrics must be an object"])
        }
        guard event["eventId"] as? String == request.pathParameters["event"], event["kindIdentifier"] as? String == request.pathParameters["kind"] else {
            return try Self.json(422, ["ok": false, "error": "the path and the event disagree"])
        }
        syncMetrics.append(JSONBox(event))
        return try Self.json(200, ["ok": true])
    }

    func heartbeat(_ request: HTTPRequest) throws -> HTTPResponse {
        guard try Self.object(request)["eventId"] is String else { return try Self.json(422, ["ok": false, "error": "eventId is required"]) }
        heartbeats += 1
        return try Self.json(200, ["ok": true])
    }

    func logs(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let lines = try Self.object(request)["logs"] as? [[String: Any]] else {
            return try Self.json(422, ["ok": false, "error": "logs must be an array"])
        }
        shippedLogs += lines.map(JSONBox.init)
        return try Self.json(200, ["ok": true])
    }

    // MARK: A Port user

    /// "Resync" pressed: a new request, and Port's call to the changelog destination when one is registered.
    func recordResyncRequest(_ identifier: String) {
        guard integration?.value["identifier"] as? String == identifier else { return }
        resyncRequest = JSONBox(["id": UUID().uuidString, "updatedAt": Self.timestamp()])
        guard let destination = integration?.value["changelogDestination"] as? [String: Any], destination["type"] as? String == "WEBHOOK",
              let url = (destination["url"] as? String).flatMap(URLComponents.init(string:)), let port = url.port
        else { return }
        let target = url.percentEncodedPath + (url.percentEncodedQuery.map { "?" + $0 } ?? "")
        Task {
            let status = (try? await fetch(port: port, "POST", target, headers: [("Content-Type", "application/json")], body: Array("{}".utf8)))?.status ?? 0
            self.changelogCalled(status)
        }
    }

    private func changelogCalled(_ status: Int) { changelogCalls.append(status) }

    func saveMapping(_ identifier: String, config: JSONValueBox) {
        guard var current = integration?.value, current["identifier"] as? String == identifier else { return }
        current["config"] = config.value
        integration = JSONBox(current)
        recordResyncRequest(identifier)
    }

    func userRequestsResync(_ request: HTTPRequest) throws -> HTTPResponse {
        let identifier = request.pathParameters["id"] ?? ""
        guard integration?.value["identifier"] as? String == identifier else {
            return try Self.json(404, ["ok": false, "error": "no integration \(identifier)"])
        }
        recordResyncRequest(identifier)
        return try Self.json(200, ["ok": true, "request": resyncRequest?.value ?? NSNull()])
    }

    func userSavesMapping(_ request: HTTPRequest) throws -> HTTPResponse {
        let identifier = request.pathParameters["id"] ?? ""
        guard integration?.value["identifier"] as? String == identifier else {
            return try Self.json(404, ["ok": false, "error": "no integration \(identifier)"])
        }
        saveMapping(identifier, config: JSONValueBox(try Self.object(request)))
        return try Self.json(200, ["ok": true, "request": resyncRequest?.value ?? NSNull()])
    }

    /// What Port's UI would show of an integration, for the README tour: whether its resources
    /// were provisioned, the blueprints and entity counts, the last resync state, each kind's last
    /// sync state and how many examples it sent.
    func overview(_ request: HTTPRequest) throws -> HTTPResponse {
        let identifier = request.pathParameters["id"] ?? ""
        guard let record = integration?.value, record["identifier"] as? String == identifier else {
            return try Self.json(404, ["ok": false, "error": "no integration \(identifier)"])
        }
        var kinds: [String: String] = [:]
        for event in syncMetrics {
            if let kind = event.value["kindIdentifier"] as? String, let state = event.value["syncState"] as? String { kinds[kind] = state }
        }
        return try Self.json(200, [
            "identifier": identifier, "resourcesInitialized": record["arePortResourcesInitialized"] as? Bool ?? false,
            "blueprints": blueprints.keys.sorted(), "entities": store.mapValues(\.count),
            "lastResyncState": resyncStates.last?.value["status"] ?? NSNull(), "kinds": kinds,
            "examples": examplesByKind.mapValues { ($0.value as? [Any])?.count ?? 0 },
        ])
    }

    /// What the fake saw, for `make bench-port` and the README tour.
    func stats() throws -> HTTPResponse {
        let states = resyncStates.compactMap { $0.value["status"] as? String }
        let finalKinds = Set(syncMetrics.compactMap { event -> String? in
            guard let kind = event.value["kindIdentifier"] as? String, ["completed", "failed", "aborted"].contains(event.value["syncState"] as? String ?? "") else { return nil }
            return kind
        })
        return try Self.json(200, [
            "requests": requestCounts, "maxInFlight": maxInFlight, "entities": store.mapValues(\.count),
            "blueprints": blueprints.keys.sorted(), "resyncStates": states,
            "syncMetricsEvents": syncMetrics.count, "kindsReported": finalKinds.sorted(), "heartbeats": heartbeats,
            "examples": examplesByKind.mapValues { ($0.value as? [Any])?.count ?? 0 },
        ])
    }
}

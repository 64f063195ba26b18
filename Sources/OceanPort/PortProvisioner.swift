import Foundation
public import Logging
public import OceanKit

/// What one provisioning attempt did.
public struct ProvisioningOutcome: Sendable, Hashable {
    /// Blueprints created, in the order of `blueprints.json`.
    public var created: [String] = []
    /// Set when nothing was created because some of the blueprints exist already (a user's, or
    /// changed by one: never overwritten).
    public var existing: [String] = []
    /// Scorecards, pages or actions Port refused: reported, not fatal.
    public var problems: [String] = []
}

/// Creates an integration's `PortResources` in a Port organisation, as Ocean's defaults do: every
/// blueprint bare, then with its relations, then whole (relations may point at each other, so each
/// stage needs every blueprint of the one before); then scorecards, pages and actions. It creates
/// nothing when any of the blueprints exists, and deletes what it created when a stage fails.
public struct PortProvisioner: Sendable {
    let client: PortClient
    let logger: Logger

    public init(client: PortClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Keys a blueprint's first stage leaves out: they may name other blueprints.
    static let laterKeys: Set<String> = ["relations", "mirrorProperties", "calculationProperties", "aggregationProperties", "ownership"]

    /// Creates `resources`; throws (with what was undone) when a blueprint stage fails.
    public func provision(_ resources: PortResources) async throws -> ProvisioningOutcome {
        var outcome = ProvisioningOutcome()
        let blueprints = try Self.objects(resources.blueprints, file: "blueprints.json")
        var identifiers: [String] = []
        for blueprint in blueprints {
            guard let identifier = blueprint["identifier"]?.stringValue, !identifier.isEmpty else {
                throw PortError(status: nil, message: "blueprints.json has a blueprint without an identifier")
            }
            identifiers.append(identifier)
        }
        for identifier in identifiers {
            let response = try await client.call("GET", "/v1/blueprints/\(PortSink.escape(identifier))")
            if response.isSuccess {
                outcome.existing.append(identifier)
            } else if response.status != 404 {
                throw PortError(status: response.status, message: "Port answered \(response.status) to GET /v1/blueprints/\(identifier): \(PortClient.portMessage(response.body))")
            }
        }
        guard outcome.existing.isEmpty else {
            logger.info("blueprints exist in Port already: creating none of the integration's resources",
                        metadata: ["blueprints": "\(outcome.existing.joined(separator: ", "))"])
            return outcome
        }
        do {
            for blueprint in blueprints {
                var bare = JSONObject()
                for (key, value) in blueprint where !Self.laterKeys.contains(key) { bare[key] = value }
                _ = try await send("POST", "/v1/blueprints", .object(bare), stage: "creating", blueprint: blueprint)
                outcome.created.append(blueprint["identifier"]?.stringValue ?? "")
            }
            for blueprint in blueprints {
                var links = JSONObject()
                for key in ["relations", "ownership"] { if let value = blueprint[key] { links[key] = value } }
                guard !links.isEmpty else { continue }
                _ = try await send("PATCH", path(blueprint), .object(links), stage: "adding the relations of", blueprint: blueprint)
            }
            for blueprint in blueprints {
                _ = try await send("PATCH", path(blueprint), .object(blueprint), stage: "completing", blueprint: blueprint)
            }
        } catch {
            let undone = await undo(outcome.created)
            throw PortError(status: (error as? PortError)?.status,
                            message: "\(error); the blueprints created by this attempt were deleted (\(undone.isEmpty ? "none" : undone.joined(separator: ", ")))")
        }
        outcome.problems += await createEach(resources.scorecards, file: "scorecards.json") { entry in
            // `[{"blueprint": ..., "data": [scorecard, ...]}]`
            let blueprint = entry["blueprint"]?.stringValue ?? ""
            return (entry["data"]?.arrayValue ?? []).map { ("/v1/blueprints/\(PortSink.escape(blueprint))/scorecards", $0) }
        }
        outcome.problems += await createEach(resources.pages, file: "pages.json") { [("/v1/pages", .object($0))] }
        outcome.problems += await createEach(resources.actions, file: "actions.json") { [("/v1/actions", .object($0))] }
        for problem in outcome.problems {
            logger.warning("a default resource was not created", metadata: ["problem": "\(problem)"])
        }
        logger.info("blueprints created in Port", metadata: ["blueprints": "\(outcome.created.joined(separator: ", "))"])
        return outcome
    }

    /// Deletes each of `resources`' blueprints with all its entities (last first, so relations to
    /// them go before them); returns the ones deleted. A blueprint already gone is not a failure.
    public func clean(_ resources: PortResources) async throws -> [String] {
        var deleted: [String] = []
        for blueprint in try Self.objects(resources.blueprints, file: "blueprints.json").reversed() {
            guard let identifier = blueprint["identifier"]?.stringValue else { continue }
            let response = try await client.call("DELETE", "/v1/blueprints/\(PortSink.escape(identifier))/all-entities",
                                                 query: [("delete_blueprint", "true")])
            if response.status == 404 { continue }
            guard response.isSuccess else {
                throw PortError(status: response.status, message: "Port refused to delete the blueprint \(identifier) (\(response.status)): \(PortClient.portMessage(response.body))")
            }
            deleted.append(identifier)
        }
        return deleted
    }

    private func path(_ blueprint: JSONObject) -> String {
        "/v1/blueprints/\(PortSink.escape(blueprint["identifier"]?.stringValue ?? ""))"
    }

    private func send(_ method: String, _ path: String, _ body: JSON, stage: String, blueprint: JSONObject) async throws -> IncomingResponse {
        let response = try await client.call(method, path, body: Array(body.jsonText.utf8))
        guard response.isSuccess else {
            let identifier = blueprint["identifier"]?.stringValue ?? ""
            throw PortError(status: response.status, message: "Port refused \(stage) the blueprint \(identifier) (\(response.status)): \(PortClient.portMessage(response.body))")
        }
        return response
    }

    private func undo(_ created: [String]) async -> [String] {
        var undone: [String] = []
        for identifier in created.reversed() {
            if let response = try? await client.call("DELETE", "/v1/blueprints/\(PortSink.escape(identifier))"), response.isSuccess || response.status == 404 {
                undone.append(identifier)
            } else {
                logger.error("a blueprint created by a failed provisioning could not be deleted", metadata: ["blueprint": "\(identifier)"])
            }
        }
        return undone
    }

    /// Posts every resource `requests` makes of the file's entries; the problems, not thrown.
    private func createEach(
        _ text: String?, file: String, _ requests: (JSONObject) -> [(path: String, body: JSON)]
    ) async -> [String] {
        let entries: [JSONObject]
        do {
            entries = try Self.objects(text, file: file)
        } catch {
            return ["\(error)"]
        }
        var problems: [String] = []
        for entry in entries {
            for request in requests(entry) {
                do {
                    let response = try await client.call("POST", request.path, body: Array(request.body.jsonText.utf8))
                    if !response.isSuccess {
                        let name = request.body["identifier"]?.stringValue ?? request.body["title"]?.stringValue ?? "?"
                        problems.append("\(file): Port refused \(name) (\(response.status)): \(PortClient.portMessage(response.body))")
                    }
                } catch {
                    problems.append("\(file): \(error)")
                }
            }
        }
        return problems
    }

    /// The objects of a JSON array text (none for nil).
    static func objects(_ text: String?, file: String) throws -> [JSONObject] {
        guard let text else { return [] }
        guard let array = (try? JSONDecoder().decode(JSON.self, from: Data(text.utf8)))?.arrayValue else {
            throw PortError(status: nil, message: "the integration's \(file) is not a JSON array")
        }
        return try array.map { element in
            guard let object = element.objectValue else { throw PortError(status: nil, message: "the integration's \(file) holds a \(element.kindName), not an object") }
            return object
        }
    }
}

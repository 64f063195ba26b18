import EventHTTP
import Foundation

/// Blueprints, and the scorecards, pages and actions an integration's defaults create.
extension FakePortState {
    func getBlueprint(_ request: HTTPRequest) throws -> HTTPResponse {
        let identifier = request.pathParameters["bp"] ?? ""
        guard let blueprint = blueprints[identifier] else {
            return try Self.json(404, ["ok": false, "error": "not_found", "message": Self.missingBlueprint(identifier)])
        }
        return try Self.json(200, ["ok": true, "blueprint": blueprint.value])
    }

    func createBlueprint(_ request: HTTPRequest) throws -> HTTPResponse {
        let body = try Self.object(request)
        guard let identifier = body["identifier"] as? String, !identifier.isEmpty else {
            return try Self.json(422, ["ok": false, "error": "invalid_request", "message": "identifier is required"])
        }
        guard blueprints[identifier] == nil else {
            return try Self.json(409, ["ok": false, "error": "identifier_taken", "message": "A blueprint with identifier \"\(identifier)\" already exists"])
        }
        if let refusal = try missingRelationTarget(body, identifier: identifier) { return refusal }
        blueprints[identifier] = JSONBox(body)
        return try Self.json(200, ["ok": true, "blueprint": body])
    }

    func patchBlueprint(_ request: HTTPRequest) throws -> HTTPResponse {
        let identifier = request.pathParameters["bp"] ?? ""
        guard var current = blueprints[identifier]?.value else {
            return try Self.json(404, ["ok": false, "error": "not_found", "message": Self.missingBlueprint(identifier)])
        }
        let body = try Self.object(request)
        if let refusal = try missingRelationTarget(body, identifier: identifier) { return refusal }
        for (key, value) in body where key != "identifier" { current[key] = value }
        blueprints[identifier] = JSONBox(current)
        return try Self.json(200, ["ok": true, "blueprint": current])
    }

    /// Port refuses a relation whose target blueprint does not exist (itself excepted).
    private func missingRelationTarget(_ body: [String: Any], identifier: String) throws -> HTTPResponse? {
        for (name, relation) in body["relations"] as? [String: Any] ?? [:] {
            let target = (relation as? [String: Any])?["target"] as? String ?? ""
            if target != identifier && blueprints[target] == nil {
                return try Self.json(404, ["ok": false, "error": "relation_target_not_found",
                                           "message": "relation \"\(name)\" targets \(Self.missingBlueprint(target).lowercased())"])
            }
        }
        return nil
    }

    func deleteBlueprint(_ request: HTTPRequest) throws -> HTTPResponse {
        let identifier = request.pathParameters["bp"] ?? ""
        guard blueprints[identifier] != nil else {
            return try Self.json(404, ["ok": false, "error": "not_found", "message": Self.missingBlueprint(identifier)])
        }
        guard store[identifier]?.isEmpty ?? true else {
            return try Self.json(422, ["ok": false, "error": "has_entities", "message": "the blueprint \"\(identifier)\" still has entities"])
        }
        blueprints[identifier] = nil
        return try Self.json(200, ["ok": true])
    }

    /// `DELETE /v1/blueprints/{bp}/all-entities?delete_blueprint=<bool>` (Port runs it as a migration;
    /// here it is done before the answer).
    func deleteAllEntities(_ request: HTTPRequest) throws -> HTTPResponse {
        let identifier = request.pathParameters["bp"] ?? ""
        guard blueprints[identifier] != nil else {
            return try Self.json(404, ["ok": false, "error": "not_found", "message": Self.missingBlueprint(identifier)])
        }
        store[identifier] = nil
        if request.queryValue("delete_blueprint") == "true" { blueprints[identifier] = nil }
        return try Self.json(200, ["ok": true, "migrationId": "migration-\(UUID().uuidString.prefix(8))"])
    }

    func createResource(_ request: HTTPRequest, collection: String) throws -> HTTPResponse {
        var body = try Self.object(request)
        if let blueprint = request.pathParameters["bp"] {
            guard blueprints[blueprint] != nil else {
                return try Self.json(404, ["ok": false, "error": "not_found", "message": Self.missingBlueprint(blueprint)])
            }
            body["blueprint"] = blueprint
        }
        let identifier = body["identifier"] as? String
        if let identifier, resources[collection, default: []].contains(where: { $0.value["identifier"] as? String == identifier }) {
            return try Self.json(409, ["ok": false, "error": "identifier_taken"])
        }
        resources[collection, default: []].append(JSONBox(body))
        return try Self.json(200, ["ok": true])
    }
}

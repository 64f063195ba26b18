import EventHTTP
import Foundation

/// Entities: bulk and single upserts, what an integration owns, bulk deletes.
extension FakePortState {
    func seed(blueprint: String, identifiers: [String], datasource: String) {
        if blueprints[blueprint] == nil { blueprints[blueprint] = Self.bareBlueprint(blueprint) }
        for identifier in identifiers {
            store[blueprint, default: [:]][identifier] = (JSONBox(["identifier": identifier, "blueprint": blueprint]), datasource)
        }
    }

    func seed(blueprints identifiers: [String]) {
        for identifier in identifiers where blueprints[identifier] == nil { blueprints[identifier] = Self.bareBlueprint(identifier) }
    }

    static func bareBlueprint(_ identifier: String) -> JSONBox {
        JSONBox(["identifier": identifier, "title": identifier, "schema": ["properties": [String: Any](), "required": [String]()], "relations": [String: Any]()])
    }

    func entities(blueprint: String) -> [String: String] {
        (store[blueprint] ?? [:]).mapValues {
            String(decoding: (try? JSONSerialization.data(withJSONObject: $0.entity.value)) ?? Data(), as: UTF8.self)
        }
    }

    func datasource(blueprint: String, identifier: String) -> String? {
        store[blueprint]?[identifier]?.datasource
    }

    static func missingBlueprint(_ blueprint: String) -> String { "Blueprint with identifier \"\(blueprint)\" was not found" }

    func bulkUpsert(_ request: HTTPRequest) throws -> HTTPResponse {
        if echoesAuthorization {
            return try Self.json(400, ["ok": false, "error": "bad_request",
                                       "message": "refused a request with Authorization: \(request.headers["Authorization"] ?? "")"])
        }
        guard request.body.count <= maxBodyBytes else {
            bodiesOverLimit += 1
            return try Self.json(413, ["ok": false, "error": "payload_too_large"])
        }
        guard request.queryValue("upsert") == "true" else { return try Self.json(400, ["ok": false, "error": "upsert must be true"]) }
        let blueprint = request.pathParameters["bp"] ?? ""
        let entities = try Self.object(request)["entities"] as? [[String: Any]] ?? []
        guard entities.count <= 20 else {
            return try Self.json(422, ["ok": false, "error": "too_many_entities", "message": "at most 20 entities per request"])
        }
        let merge = request.queryValue("merge") == "true"
        let datasource = request.headers["User-Agent"] ?? ""
        var written: [[String: Any]] = []
        var errors: [[String: Any]] = []
        for (index, entity) in entities.enumerated() {
            let shown = entity["identifier"].map { $0 as? String ?? JSONValueBox($0).text } ?? ""
            guard blueprints[blueprint] != nil else {
                errors.append(["index": index, "identifier": shown, "statusCode": 404, "error": "not_found", "message": Self.missingBlueprint(blueprint)])
                continue
            }
            if rejected.contains(shown) || entity["blueprint"] as? String != blueprint {
                errors.append(["index": index, "identifier": shown, "statusCode": 422, "error": "invalid_entity", "message": "rejected by the test"])
                continue
            }
            switch write(entity, blueprint: blueprint, merge: merge, datasource: datasource) {
            case .success(let (identifier, created)):
                written.append(["index": index, "identifier": identifier, "created": created])
            case .failure(let problem):
                errors.append(["index": index, "identifier": shown, "statusCode": 404, "error": "not_found", "message": problem.message])
            }
        }
        return try Self.json(200, ["ok": true, "entities": written, "errors": errors])
    }

    struct Problem: Error { let message: String }

    /// Stores one entity; a search identifier (`{"combinator","rules"}`) updates the one entity it
    /// matches, as Port does, and never creates one.
    private func write(_ entity: [String: Any], blueprint: String, merge: Bool, datasource: String) -> Result<(String, Bool), Problem> {
        var entity = entity
        let identifier: String
        if let search = entity["identifier"] as? [String: Any] {
            let matches = (store[blueprint] ?? [:]).filter { Self.matches(search, $0.value.entity.value) }
            guard matches.count == 1, let match = matches.first else {
                return .failure(Problem(message: "the search identifier matched \(matches.count) entities, not one"))
            }
            identifier = match.key
            entity["identifier"] = identifier
        } else {
            identifier = entity["identifier"] as? String ?? ""
        }
        let created = store[blueprint]?[identifier] == nil
        store[blueprint, default: [:]][identifier] = (JSONBox(Self.merged(store[blueprint]?[identifier]?.entity.value, entity, merge: merge)), datasource)
        return .success((identifier, created))
    }

    /// Port's search rules as entities use them: `$identifier`, `$title` or a property, `=` or `in`.
    static func matches(_ search: [String: Any], _ entity: [String: Any]) -> Bool {
        let rules = search["rules"] as? [[String: Any]] ?? []
        let all = (search["combinator"] as? String ?? "and") == "and"
        let results = rules.map { rule -> Bool in
            let property = rule["property"] as? String ?? ""
            let actual: Any? = switch property {
            case "$identifier": entity["identifier"]
            case "$title": entity["title"]
            default: (entity["properties"] as? [String: Any])?[property]
            }
            let actualText = actual.map { $0 as? String ?? JSONValueBox($0).text }
            switch rule["operator"] as? String {
            case "=": return actualText != nil && actualText == (rule["value"].map { $0 as? String ?? JSONValueBox($0).text })
            case "in": return (rule["value"] as? [Any] ?? []).contains { ($0 as? String ?? JSONValueBox($0).text) == actualText }
            default: return false
            }
        }
        return !rules.isEmpty && (all ? results.allSatisfy { $0 } : results.contains(true))
    }

    func singleUpsert(_ request: HTTPRequest) throws -> HTTPResponse {
        guard request.body.count <= maxBodyBytes else {
            bodiesOverLimit += 1
            return try Self.json(413, ["ok": false, "error": "payload_too_large"])
        }
        let blueprint = request.pathParameters["bp"] ?? ""
        guard blueprints[blueprint] != nil else {
            return try Self.json(404, ["ok": false, "error": "not_found", "message": Self.missingBlueprint(blueprint)])
        }
        let entity = try Self.object(request)
        if let identifier = entity["identifier"] as? String, rejected.contains(identifier) {
            return try Self.json(422, ["ok": false, "error": "invalid_entity", "message": "rejected by the test"])
        }
        switch write(entity, blueprint: blueprint, merge: request.queryValue("merge") == "true", datasource: request.headers["User-Agent"] ?? "") {
        case .success: return try Self.json(200, ["ok": true, "entity": entity])
        case .failure(let problem): return try Self.json(404, ["ok": false, "error": "not_found", "message": problem.message])
        }
    }

    func datasourceEntities(_ request: HTTPRequest) throws -> HTTPResponse {
        let body = try Self.object(request)
        let prefix = body["datasource_prefix"] as? String ?? ""
        let suffix = body["datasource_suffix"] as? String ?? ""
        let limit = body["limit"] as? Int ?? 5000
        let offset = Int(body["from"] as? String ?? "0") ?? 0
        var owned: [(String, String)] = []
        for (blueprint, entities) in store.sorted(by: { $0.key < $1.key }) {
            for (identifier, stored) in entities.sorted(by: { $0.key < $1.key })
            where stored.datasource.hasPrefix(prefix) && stored.datasource.hasSuffix(suffix) {
                owned.append((blueprint, identifier))
            }
        }
        let page = owned.dropFirst(offset).prefix(limit)
        let next: Any = offset + page.count < owned.count ? String(offset + page.count) : NSNull()
        return try Self.json(200, ["ok": true, "entities": page.map { ["blueprint": $0.0, "identifier": $0.1] }, "next": next])
    }

    func bulkDelete(_ request: HTTPRequest) throws -> HTTPResponse {
        let blueprint = request.pathParameters["bp"] ?? ""
        let identifiers = try Self.object(request)["entities"] as? [String] ?? []
        guard identifiers.count <= 100 else { return try Self.json(422, ["ok": false, "error": "at most 100 entities per request"]) }
        var deleted: [String] = []
        for identifier in identifiers where store[blueprint]?.removeValue(forKey: identifier) != nil {
            deleted.append(identifier)
        }
        return try Self.json(200, ["ok": true, "deletedEntities": deleted])
    }

    static func merged(_ old: [String: Any]?, _ new: [String: Any], merge: Bool) -> [String: Any] {
        guard merge, let old else { return new }
        var result = old
        for (key, value) in new {
            if key == "properties" || key == "relations", let oldInner = old[key] as? [String: Any], let newInner = value as? [String: Any] {
                result[key] = oldInner.merging(newInner) { $1 }
            } else {
                result[key] = value
            }
        }
        return result
    }
}

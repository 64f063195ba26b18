import Foundation
public import Logging
import OceanKit
public import OceanEngine

/// Port as the destination: bulk upserts (at most 20 entities and 1 MiB a request, a 413 split and
/// retried down to single upserts), per-entity errors counted as failed entities, ownership by
/// `User-Agent`, and reconciliation through `datasource-entities` and bulk deletes.
public final class PortSink: ReconcilingSink, Sendable {
    public let name = "Port API"
    public var destinationIdentity: String { "port:\(client.settings.baseURL)/\(client.settings.clientID)" }
    public let client: PortClient
    private let writeLog: any WriteLog
    private let logger: Logger

    /// Port's limits for one bulk request.
    static let maxEntitiesPerRequest = 20
    static let maxBodyBytes = 1 << 20
    static let maxDeletesPerRequest = 100
    static let ownedPageSize = 5000

    public init(client: PortClient, writeLog: any WriteLog, logger: Logger) {
        self.client = client
        self.writeLog = writeLog
        self.logger = logger
    }

    // MARK: Upserts

    public func upsert(_ entities: [MappedEntity], options: UpsertOptions) async throws -> UpsertOutcome {
        var byBlueprint: [String: [MappedEntity]] = [:]
        var order: [String] = []
        for entity in entities {
            if byBlueprint[entity.blueprint] == nil { order.append(entity.blueprint) }
            byBlueprint[entity.blueprint, default: []].append(entity)
        }
        var chunks: [(blueprint: String, entities: ArraySlice<MappedEntity>)] = []
        for blueprint in order {
            chunks += Self.chunks(byBlueprint[blueprint]!).map { (blueprint, $0) }
        }
        // Chunks go out together; the client's bound on requests in flight keeps Port's load in check.
        let results = try await withThrowingTaskGroup(of: ChunkResult.self) { group in
            for chunk in chunks {
                group.addTask { try await self.send(chunk.entities, blueprint: chunk.blueprint, options: options) }
            }
            return try await group.reduce(into: [ChunkResult]()) { $0.append($1) }
        }
        var outcome = UpsertOutcome(upserted: 0)
        var written: [String: [String]] = [:]
        for result in results {
            outcome.upserted += result.written.count
            outcome.failures += result.failures
            written[result.blueprint, default: []] += result.written
        }
        if options.tracksWrites {
            for (blueprint, identifiers) in written {
                try await writeLog.record(jobID: options.jobID, blueprint: blueprint, identifiers: identifiers)
            }
        }
        return outcome
    }

    private struct ChunkResult: Sendable {
        let blueprint: String
        var written: [String] = []
        var failures: [UpsertFailure] = []
    }

    /// Runs of at most 20 entities whose request body stays within 1 MiB.
    static func chunks(_ entities: [MappedEntity]) -> [ArraySlice<MappedEntity>] {
        var result: [ArraySlice<MappedEntity>] = []
        var start = 0
        var bytes = 16
        for index in entities.indices {
            let size = entities[index].json.count + 1
            if index > start && (index - start >= maxEntitiesPerRequest || bytes + size > maxBodyBytes) {
                result.append(entities[start..<index])
                start = index
                bytes = 16
            }
            bytes += size
        }
        if start < entities.count { result.append(entities[start...]) }
        return result
    }

    private func send(_ entities: ArraySlice<MappedEntity>, blueprint: String, options: UpsertOptions) async throws -> ChunkResult {
        var result = ChunkResult(blueprint: blueprint)
        var body = Array(#"{"entities":["#.utf8)
        for (position, entity) in entities.enumerated() {
            if position > 0 { body.append(UInt8(ascii: ",")) }
            body += entity.json
        }
        body += Array("]}".utf8)
        let query = Self.upsertQuery(options) + [("validation_only", "false")]
        let response = try await client.call("POST", "/v1/blueprints/\(Self.escape(blueprint))/entities/bulk", query: query, body: body)
        switch response.status {
        case 200..<300:
            let parsed = try? JSONDecoder().decode(PortPayloads.BulkUpsertResponse.self, from: Data(response.body))
            let identifiers = Array(entities.map(\.identifier))
            var failedIndexes = Set<Int>()
            for error in parsed?.errors ?? [] {
                let index = error.index ?? -1
                failedIndexes.insert(index)
                let identifier = error.identifier?.stringValue ?? (identifiers.indices.contains(index) ? identifiers[index] : "?")
                let message = [error.statusCode?.messageText, error.error?.messageText, error.message?.messageText]
                    .compactMap { $0 }.joined(separator: " ")
                result.failures.append(UpsertFailure(blueprint: blueprint, identifier: identifier, message: "Port refused it: \(message)"))
            }
            if let listed = parsed?.entities {
                for entry in listed {
                    if let index = entry.index, identifiers.indices.contains(index) {
                        // Port answers with the entity's identifier: for a search identifier
                        // (`{"combinator","rules"}`), the entity it matched, which this job then
                        // wrote and reconciliation must not count as stale.
                        if !failedIndexes.contains(index) { result.written.append(entry.identifier?.stringValue ?? identifiers[index]) }
                    } else if let identifier = entry.identifier?.stringValue {
                        result.written.append(identifier)
                    }
                }
            } else {
                result.written = identifiers.enumerated().filter { !failedIndexes.contains($0.offset) }.map(\.element)
            }
        case 413 where entities.count > 1:
            // Too large for Port: halves, then single upserts.
            let middle = entities.startIndex + entities.count / 2
            for half in [entities[..<middle], entities[middle...]] {
                let part = try await send(half, blueprint: blueprint, options: options)
                result.written += part.written
                result.failures += part.failures
            }
        case 413:
            let entity = entities[entities.startIndex]
            let single = try await client.call("POST", "/v1/blueprints/\(Self.escape(blueprint))/entities",
                                               query: Self.upsertQuery(options), body: entity.json)
            if single.isSuccess {
                result.written.append(entity.identifier)
            } else {
                let reason = single.status == 413 ? "the entity is larger than Port accepts" : PortClient.portMessage(single.body)
                result.failures.append(UpsertFailure(blueprint: blueprint, identifier: entity.identifier,
                                                     message: "Port refused it (\(single.status)): \(reason)"))
            }
        default:
            // The request as a whole was refused (an unknown blueprint, a validation error): every
            // entity of it failed, for the same reason.
            let reason = "Port refused the batch (\(response.status)): \(PortClient.portMessage(response.body))"
            result.failures = entities.map { UpsertFailure(blueprint: blueprint, identifier: $0.identifier, message: reason) }
        }
        return result
    }

    static func upsertQuery(_ options: UpsertOptions) -> [(String, String)] {
        [("upsert", "true"), ("merge", options.merge ? "true" : "false"),
         ("create_missing_related_entities", options.createMissingRelatedEntities ? "true" : "false")]
    }

    static func escape(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? component
    }

    /// Port cannot be asked cheaply whether each still exists (`OCEAN__RESYNC__COMPARE=port` would):
    /// the job records them as written, so reconciliation keeps them.
    public func confirmUnchanged(_ entities: [MappedEntity], options: UpsertOptions) async throws -> [MappedEntity] {
        guard options.tracksWrites else { return [] }
        var byBlueprint: [String: [String]] = [:]
        for entity in entities { byBlueprint[entity.blueprint, default: []].append(entity.identifier) }
        for (blueprint, identifiers) in byBlueprint {
            try await writeLog.record(jobID: options.jobID, blueprint: blueprint, identifiers: identifiers)
        }
        return []
    }

    // MARK: Reconciliation

    struct OwnedEntity: Sendable {
        let blueprint: String
        let identifier: String
    }

    /// Every entity the integration owns, page by page, as (blueprint, identifier).
    private func ownedPages() -> Paginated<[OwnedEntity]> {
        let client = self.client
        let settings = client.settings
        return client.http.paginate { cursor in
            let request = PortPayloads.DatasourceRequest(
                datasourcePrefix: "port-ocean/\(settings.integrationType)/",
                datasourceSuffix: "/\(settings.integrationIdentifier)/exporter", limit: Self.ownedPageSize, from: cursor)
            let response = try await client.callExpectingSuccess(
                "POST", "/v1/blueprints/entities/datasource-entities", body: Array(try JSONEncoder().encode(request)))
            guard let answer = try? JSONDecoder().decode(PortPayloads.DatasourceResponse.self, from: Data(response.body)) else {
                throw PortError(status: response.status, message: "Port's datasource-entities answer is not JSON")
            }
            let page = (answer.entities ?? []).compactMap { entity -> OwnedEntity? in
                guard let blueprint = entity.blueprint?.stringValue, let identifier = entity.identifier?.stringValue else { return nil }
                return OwnedEntity(blueprint: blueprint, identifier: identifier)
            }
            return (page, answer.next)
        }
    }

    /// One listing of what the integration owns (page by page); its identifiers serve the end of
    /// the job too, so a job lists once.
    public func ownedAtStart(integration: String) async throws -> OwnedEntities {
        var identifiers: [String: [String]] = [:]
        for try await page in ownedPages() {
            for entity in page { identifiers[entity.blueprint, default: []].append(entity.identifier) }
        }
        return OwnedEntities(counts: identifiers.mapValues(\.count), identifiers: identifiers)
    }

    public func staleIdentifiers(blueprints: Set<String>, integration: String, jobID: String, ownedAtStart: OwnedEntities) async throws -> [String: [String]] {
        var stale: [String: [String]] = [:]
        for blueprint in blueprints { stale[blueprint] = [] }
        func compare(_ page: [OwnedEntity]) async throws {
            var byBlueprint: [String: [String]] = [:]
            for entity in page where blueprints.contains(entity.blueprint) {
                byBlueprint[entity.blueprint, default: []].append(entity.identifier)
            }
            for (blueprint, identifiers) in byBlueprint {
                let written = try await writeLog.written(jobID: jobID, blueprint: blueprint, among: identifiers)
                stale[blueprint, default: []] += identifiers.filter { !written.contains($0) }
            }
        }
        if let listed = ownedAtStart.identifiers {
            for blueprint in blueprints {
                let identifiers = listed[blueprint] ?? []
                var start = 0
                while start < identifiers.count {
                    let end = min(identifiers.count, start + Self.ownedPageSize)
                    try await compare(identifiers[start..<end].map { OwnedEntity(blueprint: blueprint, identifier: $0) })
                    start = end
                }
            }
        } else {
            for try await page in ownedPages() { try await compare(page) }
        }
        return stale
    }

    /// Requests of at most 100 identifiers, sent together (the client's bound on requests in flight
    /// keeps Port's load in check).
    public func delete(blueprint: String, identifiers: [String], integration: String, deleteDependents: Bool) async throws -> Int {
        let client = self.client
        let path = "/v1/blueprints/\(Self.escape(blueprint))/bulk/entities/delete"
        let query = [("delete_dependents", deleteDependents ? "true" : "false")]
        return try await withThrowingTaskGroup(of: Int.self) { group in
            var start = 0
            while start < identifiers.count {
                let batch = Array(identifiers[start..<min(identifiers.count, start + Self.maxDeletesPerRequest)])
                start += batch.count
                let body = Array(try JSONEncoder().encode(PortPayloads.BulkDelete(entities: batch)))
                group.addTask {
                    let response = try await client.callExpectingSuccess("POST", path, query: query, body: body)
                    let answer = try? JSONDecoder().decode(PortPayloads.BulkDeleteResponse.self, from: Data(response.body))
                    return answer?.deletedEntities?.count ?? batch.count
                }
            }
            return try await group.reduce(0, +)
        }
    }

    public func finishJob(_ jobID: String) async {
        do {
            try await writeLog.forget(jobID: jobID)
        } catch {
            logger.warning("dropping the job's write log failed", metadata: ["job.id": "\(jobID)", "error": "\(error)"])
        }
    }
}

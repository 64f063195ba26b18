import EventHTTP
import Foundation
import OceanKit
import OceanEngine
import OceanCatalog

/// `POST /resync`, `POST /resync/{kind}`, `GET /jobs`, `GET /jobs/{id}`, `POST /jobs/{id}/cancel`,
/// `GET /entities`.
struct ResyncRoutes: Sendable {
    let coordinator: ResyncCoordinator
    /// The embedded catalog when it is the destination (nil when Port is).
    let catalog: CatalogStore?
    let authorization: BearerAuthorization
    /// False with `OCEAN__EVENT_LISTENER__TYPE=WEBHOOKS_ONLY`: resync requests are refused.
    let resyncsEnabled: Bool
    /// How Port's own calls to `POST /resync` (the WEBHOOK listener) are recognised.
    var portCalls: PortChangelogAuthorization?
    /// Port signalled a change (the mapping may be new).
    var onPortCall: @Sendable () -> Void = {}

    static let maxJobsLimit = 500
    static let defaultJobsLimit = 50
    static let maxEntitiesLimit = 1000
    static let defaultEntitiesLimit = 100

    var routes: [Route] {
        [
            // Port's call may carry a body (its changelog event): accepted and not read.
            Route(.post, "/resync", maxBodySize: 64 << 10, handler: .asynchronous { request in
                let trigger: Job.Trigger
                if let portCalls, let caller = try portCalls.caller(of: request) {
                    trigger = caller
                    onPortCall()
                } else {
                    try authorization.check(request)
                    trigger = .http
                }
                do {
                    return try await resync(.allKinds, trigger: trigger, full: try Self.full(request))
                } catch {
                    throw ErrorResponses.httpError(error)
                }
            }),
            Route(.post, "/resync/{kind}", maxBodySize: 0, handler: guarded { request in
                try await resync(.kind(request.pathParameters["kind"] ?? ""), trigger: .http, full: try Self.full(request))
            }),
            Route(.get, "/jobs", handler: guarded(listJobs)),
            Route(.get, "/jobs/{id}", handler: guarded { request in
                let id = request.pathParameters["id"] ?? ""
                guard let job = await coordinator.job(id) else { throw HTTPError(.notFound, "no job \(id.prefix(80))") }
                return try Self.jobResponse(.ok, job)
            }),
            Route(.post, "/jobs/{id}/cancel", maxBodySize: 0, handler: guarded { request in
                let job = try await coordinator.cancel(request.pathParameters["id"] ?? "")
                return try Self.jobResponse(.accepted, job)
            }),
            Route(.get, "/entities", handler: guarded(listEntities)),
        ]
    }

    /// Checks the token, runs `body`, maps its errors in one place.
    private func guarded(_ body: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) -> RouteHandler {
        let authorization = self.authorization
        return .asynchronous { request in
            try authorization.check(request)
            do {
                return try await body(request)
            } catch {
                throw ErrorResponses.httpError(error)
            }
        }
    }

    /// `full=true|false` (default false): write every entity, unchanged or not.
    static func full(_ request: HTTPRequest) throws(HTTPError) -> Bool {
        guard let text = request.queryValue("full") else { return false }
        switch text {
        case "true", "1": return true
        case "false", "0": return false
        default: throw HTTPError(.badRequest, "full must be true or false, got \"\(text.prefix(40))\"")
        }
    }

    private func resync(_ scope: Job.Scope, trigger: Job.Trigger, full: Bool) async throws -> HTTPResponse {
        guard resyncsEnabled else {
            throw ResyncError(.disabled, "resyncs are off: the service runs webhooks only (OCEAN__EVENT_LISTENER__TYPE=WEBHOOKS_ONLY)")
        }
        let (job, coalesced) = try await coordinator.request(scope, trigger: trigger, full: full)
        var response = try Self.jobResponse(.accepted, job)
        response.headers.add("Location", "/jobs/\(job.id)")
        if coalesced { response.headers.add("X-Coalesced", "true") }
        return response
    }

    @Sendable private func listJobs(_ request: HTTPRequest) async throws -> HTTPResponse {
        let status = try QueryParameters.choice(request, "status", of: Job.Status.self)
        let limit = try QueryParameters.limit(request, default: Self.defaultJobsLimit, maximum: Self.maxJobsLimit)
        let kind = request.queryValue("kind").flatMap { $0.isEmpty ? nil : $0 }
        let jobs = await coordinator.jobs(status: status, kind: kind, limit: limit)
        return try HTTPResponse.json(.ok, JobList(jobs: jobs), encoder: Job.encoder)
    }

    @Sendable private func listEntities(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let catalog else {
            throw HTTPError(.notFound, "the destination is Port, not the embedded catalog: browse the entities in Port")
        }
        let limit = try QueryParameters.limit(request, default: Self.defaultEntitiesLimit, maximum: Self.maxEntitiesLimit)
        let blueprint = request.queryValue("blueprint").flatMap { $0.isEmpty ? nil : $0 }
        let identifier = request.queryValue("identifier").flatMap { $0.isEmpty ? nil : $0 }
        let entities = try await catalog.entities(blueprint: blueprint, identifier: identifier, limit: limit)
        var body = Array(#"{"entities":["#.utf8)
        for (index, entity) in entities.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: entity.utf8)
        }
        body.append(contentsOf: "]}".utf8)
        return .json(.ok, body: body)
    }

    static func jobResponse(_ status: HTTPStatus, _ job: Job) throws -> HTTPResponse {
        try HTTPResponse.json(status, job, encoder: Job.encoder)
    }

    private struct JobList: Encodable {
        let jobs: [Job]
    }
}

/// Query parameters shared by the list routes, with the 400 a bad value gets.
enum QueryParameters {
    /// `limit`: 1...`maximum`, `defaultValue` when absent.
    static func limit(_ request: HTTPRequest, default defaultValue: Int, maximum: Int) throws(HTTPError) -> Int {
        guard let text = request.queryValue("limit") else { return defaultValue }
        guard let value = Int(text), (1...maximum).contains(value) else {
            throw HTTPError(.badRequest, "limit must be a whole number from 1 to \(maximum), got \"\(text.prefix(40))\"")
        }
        return value
    }

    /// One of an enumeration's raw values, nil when absent.
    static func choice<Choice: RawRepresentable & CaseIterable>(
        _ request: HTTPRequest, _ name: String, of type: Choice.Type
    ) throws(HTTPError) -> Choice? where Choice.RawValue == String {
        guard let text = request.queryValue(name) else { return nil }
        guard let value = Choice(rawValue: text) else {
            let known = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw HTTPError(.badRequest, "\(name) must be one of \(known), got \"\(text.prefix(40))\"")
        }
        return value
    }
}

import EventHTTP
import Foundation
import Logging

/// A Port-like API on loopback for tests and benchmarks: the endpoints an integration uses, with
/// Port's limits (20 entities and 1 MiB per bulk request), ownership by `User-Agent`, paging of
/// owned entities, and faults on demand (expired tokens, 429 with `Retry-After`, 500s, slow answers,
/// per-entity errors). It counts requests by endpoint and the most in flight at once.
public final class FakePort: Sendable {
    public struct Fault: Sendable {
        /// Applies to requests whose path starts with this.
        public var pathPrefix: String
        public var status: Int
        public var retryAfterSeconds: Double?
        /// How many matching requests get it.
        public var times: Int

        public init(pathPrefix: String, status: Int, retryAfterSeconds: Double? = nil, times: Int = 1) {
            self.pathPrefix = pathPrefix
            self.status = status
            self.retryAfterSeconds = retryAfterSeconds
            self.times = times
        }
    }

    public let clientID: String
    public let clientSecret: String
    let state: FakePortState
    private let server: HTTPServer

    /// `echoesRejectedCredentials`: a badly behaved API that repeats wrong credentials in its 401
    /// message, for checking that the service scrubs what a dependency echoes back.
    /// `echoesAuthorization`: a proxy that refuses every bulk upsert and quotes the request's
    /// `Authorization` header (the live access token) in its message.
    public init(clientID: String = "client-id", clientSecret: String = "client-secret-do-not-log", tokenLifetime: Double = 3600, port: Int = 0,
                echoesRejectedCredentials: Bool = false, echoesAuthorization: Bool = false) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        let state = FakePortState(clientID: clientID, clientSecret: clientSecret, tokenLifetime: tokenLifetime,
                                  echoesRejectedCredentials: echoesRejectedCredentials, echoesAuthorization: echoesAuthorization)
        self.state = state
        var logger = Logger(label: "fake-port")
        logger.logLevel = .critical
        let big = 8 << 20
        func route(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) -> Route {
            Route(method, pattern, maxBodySize: big, handler: .asynchronous { request in
                try await state.handle(request, endpoint: "\(method.rawValue) \(pattern)", handler)
            })
        }
        let routes = [
            Route(.post, "/v1/auth/access_token", maxBodySize: big, handler: .asynchronous { request in
                try await state.issueToken(request)
            }),
            route(.get, "/v1/integration/{id}") { try await state.getIntegration($0) },
            route(.post, "/v1/integration") { try await state.createIntegration($0) },
            route(.patch, "/v1/integration/{id}") { try await state.patchIntegration($0) },
            route(.patch, "/v1/integration/{id}/resync-state") { try await state.resyncState($0) },
            route(.post, "/v1/blueprints/{bp}/entities/bulk") { try await state.bulkUpsert($0) },
            route(.post, "/v1/blueprints/{bp}/entities") { try await state.singleUpsert($0) },
            route(.post, "/v1/blueprints/entities/datasource-entities") { try await state.datasourceEntities($0) },
            route(.post, "/v1/blueprints/{bp}/bulk/entities/delete") { try await state.bulkDelete($0) },
            // Not Port's: what the fake saw, for `make bench-port`.
            Route(.get, "/__stats", handler: .asynchronous { _ in try await state.stats() }),
        ]
        server = HTTPServer(configuration: .init(host: "127.0.0.1", port: port, eventLoops: 1, maxBodySize: big),
                            router: Router(routes), logger: logger)
    }

    public func start() async throws { try await server.start() }
    public func stop() async { await server.shutdown() }
    public var baseURL: String { "http://127.0.0.1:\(server.port ?? 0)" }

    // MARK: Test controls and observations

    public func inject(_ fault: Fault) async { await state.inject(fault) }
    public func setLatency(_ latency: Duration) async { await state.setLatency(latency) }
    /// Upserts of these identifiers get a per-entity error.
    public func reject(identifiers: Set<String>) async { await state.reject(identifiers) }
    /// Bodies over this size get 413 (Port's limit is 1 MiB).
    public func setMaxBodyBytes(_ bytes: Int) async { await state.setMaxBodyBytes(bytes) }
    /// Expires every token issued so far (the next call gets 401).
    public func expireTokens() async { await state.expireTokens() }
    /// Sets the integration record from JSON text (nil: the integration does not exist).
    public func setIntegration(_ json: String?) async {
        await state.setIntegration(json.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }.map(JSONBox.init))
    }
    public func seed(blueprint: String, identifiers: [String], datasource: String) async {
        await state.seed(blueprint: blueprint, identifiers: identifiers, datasource: datasource)
    }

    public var requestCounts: [String: Int] { get async { await state.requestCounts } }
    public var maxInFlight: Int { get async { await state.maxInFlight } }
    public var tokensIssued: Int { get async { await state.tokensIssued } }
    /// Every access token handed out.
    public var issuedTokens: [String] { get async { await state.tokens.keys.sorted() } }
    /// The resync states reported, in order, as JSON texts.
    public var resyncStates: [String] { get async { await state.resyncStates.map(\.text) } }
    /// The integration record, as JSON text.
    public var integration: String? { get async { await state.integration?.text } }
    public var bodiesOverLimit: Int { get async { await state.bodiesOverLimit } }
    /// The stored entities of `blueprint`, by identifier, as JSON texts.
    public func entities(blueprint: String) async -> [String: String] { await state.entities(blueprint: blueprint) }
    public func datasource(blueprint: String, identifier: String) async -> String? {
        await state.datasource(blueprint: blueprint, identifier: identifier)
    }
}

/// A JSON object that crosses actor boundaries (built and read with JSONSerialization).
struct JSONBox: @unchecked Sendable {
    let value: [String: Any]
    init(_ value: [String: Any]) { self.value = value }
    var text: String { String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: .sortedKeys)) ?? Data(), as: UTF8.self) }
}

actor FakePortState {
    let clientID: String
    let clientSecret: String
    let tokenLifetime: Double
    var tokens: [String: Date] = [:]
    var tokensIssued = 0
    var faults: [FakePort.Fault] = []
    var latency: Duration = .zero
    var rejected: Set<String> = []
    var maxBodyBytes = 1 << 20
    var bodiesOverLimit = 0
    var integration: JSONBox?
    var resyncStates: [JSONBox] = []
    var requestCounts: [String: Int] = [:]
    var inFlight = 0
    var maxInFlight = 0
    /// blueprint -> identifier -> (entity, datasource)
    var store: [String: [String: (entity: JSONBox, datasource: String)]] = [:]

    let echoesRejectedCredentials: Bool
    let echoesAuthorization: Bool

    init(clientID: String, clientSecret: String, tokenLifetime: Double, echoesRejectedCredentials: Bool, echoesAuthorization: Bool) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.tokenLifetime = tokenLifetime
        self.echoesRejectedCredentials = echoesRejectedCredentials
        self.echoesAuthorization = echoesAuthorization
    }

    func inject(_ fault: FakePort.Fault) { faults.append(fault) }
    func setLatency(_ value: Duration) { latency = value }
    func reject(_ identifiers: Set<String>) { rejected = identifiers }
    func setMaxBodyBytes(_ bytes: Int) { maxBodyBytes = bytes }
    func expireTokens() { for key in tokens.keys { tokens[key] = .distantPast } }
    func setIntegration(_ value: JSONBox?) { integration = value }
    func seed(blueprint: String, identifiers: [String], datasource: String) {
        for identifier in identifiers {
            store[blueprint, default: [:]][identifier] = (JSONBox(["identifier": identifier, "blueprint": blueprint]), datasource)
        }
    }

    func entities(blueprint: String) -> [String: String] {
        (store[blueprint] ?? [:]).mapValues {
            String(decoding: (try? JSONSerialization.data(withJSONObject: $0.entity.value)) ?? Data(), as: UTF8.self)
        }
    }

    func datasource(blueprint: String, identifier: String) -> String? {
        store[blueprint]?[identifier]?.datasource
    }

    // MARK: Request handling

    func issueToken(_ request: HTTPRequest) async throws -> HTTPResponse {
        requestCounts["POST /v1/auth/access_token", default: 0] += 1
        let body = try Self.object(request)
        guard body["clientId"] as? String == clientID, body["clientSecret"] as? String == clientSecret else {
            // The echo quotes the raw request body: in the JSON answer it is JSON-escaped (with "\/").
            let echo = echoesRejectedCredentials ? ": got \(body["clientId"] ?? "nothing") / \(body["clientSecret"] ?? "nothing"), request \(String(decoding: request.body, as: UTF8.self))" : ""
            return try Self.json(401, ["ok": false, "error": "invalid_credentials", "message": "bad client id or secret" + echo])
        }
        tokensIssued += 1
        let token = "token-\(tokensIssued)-\(UUID().uuidString)"
        tokens[token] = Date().addingTimeInterval(tokenLifetime)
        return try Self.json(200, ["accessToken": token, "expiresIn": tokenLifetime, "tokenType": "Bearer"])
    }

    /// Counts, applies faults and latency, checks the token, then runs the endpoint.
    func handle(
        _ request: HTTPRequest, endpoint: String, _ handler: @Sendable (HTTPRequest) async throws -> HTTPResponse
    ) async throws -> HTTPResponse {
        requestCounts[endpoint, default: 0] += 1
        inFlight += 1
        maxInFlight = max(maxInFlight, inFlight)
        defer { inFlight -= 1 }
        if latency > .zero { try await Task.sleep(for: latency) }
        if let index = faults.firstIndex(where: { request.path.hasPrefix($0.pathPrefix) }) {
            let fault = faults[index]
            faults[index].times -= 1
            if faults[index].times <= 0 { faults.remove(at: index) }
            var headers = HTTPHeaders()
            if let retryAfter = fault.retryAfterSeconds { headers.add("Retry-After", "\(retryAfter)") }
            return HTTPResponse.json(HTTPStatus(code: fault.status, reasonPhrase: "Fault"), body: Array(#"{"ok":false,"error":"injected"}"#.utf8), headers: headers)
        }
        let authorization = request.headers["Authorization"] ?? ""
        let token = authorization.hasPrefix("Bearer ") ? String(authorization.dropFirst(7)) : ""
        guard let expiry = tokens[token], expiry > Date() else {
            return try Self.json(401, ["ok": false, "error": "unauthorized", "message": "token expired or unknown"])
        }
        return try await handler(request)
    }

    func getIntegration(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let integration else { return try Self.json(404, ["ok": false, "error": "not_found"]) }
        return try Self.json(200, ["ok": true, "integration": integration.value])
    }

    func createIntegration(_ request: HTTPRequest) throws -> HTTPResponse {
        var body = try Self.object(request)
        body["identifier"] = body["installationId"]
        integration = JSONBox(body)
        return try Self.json(200, ["ok": true, "integration": body])
    }

    func patchIntegration(_ request: HTTPRequest) throws -> HTTPResponse {
        guard var current = integration?.value else { return try Self.json(404, ["ok": false, "error": "not_found"]) }
        for (key, value) in try Self.object(request) { current[key] = value }
        integration = JSONBox(current)
        return try Self.json(200, ["ok": true, "integration": current])
    }

    func resyncState(_ request: HTTPRequest) throws -> HTTPResponse {
        resyncStates.append(JSONBox(try Self.object(request)))
        return try Self.json(200, ["ok": true, "integration": ["resyncState": ["updatedAt": "now"]]])
    }

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
            let identifier = entity["identifier"] as? String ?? ""
            if rejected.contains(identifier) || entity["blueprint"] as? String != blueprint {
                errors.append(["index": index, "identifier": identifier, "statusCode": 422, "error": "invalid_entity", "message": "rejected by the test"])
                continue
            }
            let created = store[blueprint]?[identifier] == nil
            store[blueprint, default: [:]][identifier] = (JSONBox(Self.merged(store[blueprint]?[identifier]?.entity.value, entity, merge: merge)), datasource)
            written.append(["index": index, "identifier": identifier, "created": created])
        }
        return try Self.json(200, ["ok": true, "entities": written, "errors": errors])
    }

    func singleUpsert(_ request: HTTPRequest) throws -> HTTPResponse {
        guard request.body.count <= maxBodyBytes else {
            bodiesOverLimit += 1
            return try Self.json(413, ["ok": false, "error": "payload_too_large"])
        }
        let blueprint = request.pathParameters["bp"] ?? ""
        let entity = try Self.object(request)
        let identifier = entity["identifier"] as? String ?? ""
        if rejected.contains(identifier) {
            return try Self.json(422, ["ok": false, "error": "invalid_entity", "message": "rejected by the test"])
        }
        store[blueprint, default: [:]][identifier] = (JSONBox(entity), request.headers["User-Agent"] ?? "")
        return try Self.json(200, ["ok": true, "entity": entity])
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

    func stats() throws -> HTTPResponse {
        let entities = store.mapValues(\.count)
        return try Self.json(200, ["requests": requestCounts, "maxInFlight": maxInFlight, "entities": entities])
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

    // MARK: Helpers

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

    static func object(_ request: HTTPRequest) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
            throw HTTPError(.badRequest, "the body must be a JSON object")
        }
        return object
    }

    static func json(_ status: Int, _ object: [String: Any]) throws -> HTTPResponse {
        HTTPResponse.json(HTTPStatus(code: status, reasonPhrase: status == 200 ? "OK" : "Error"),
                          body: Array(try JSONSerialization.data(withJSONObject: object)))
    }
}

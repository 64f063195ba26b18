import EventHTTP
import Foundation

/// The fake's state and request handling, one actor: every request sees a consistent Port.
actor FakePortState {
    let clientID: String
    let clientSecret: String
    let tokenLifetime: Double
    var baseURL = ""
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
    /// Blueprints by identifier.
    var blueprints: [String: JSONBox] = [:]
    /// Scorecards, pages and actions created.
    var resources: [String: [JSONBox]] = [:]
    /// The latest resync request (a user pressed "Resync" or saved a mapping).
    var resyncRequest: JSONBox?
    var syncMetrics: [JSONBox] = []
    var heartbeats = 0
    var examplesByKind: [String: JSONValueBox] = [:]
    var shippedLogs: [JSONBox] = []
    var changelogCalls: [Int] = []

    let echoesRejectedCredentials: Bool
    let echoesAuthorization: Bool

    init(clientID: String, clientSecret: String, tokenLifetime: Double, echoesRejectedCredentials: Bool, echoesAuthorization: Bool) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.tokenLifetime = tokenLifetime
        self.echoesRejectedCredentials = echoesRejectedCredentials
        self.echoesAuthorization = echoesAuthorization
    }

    func setBaseURL(_ url: String) { baseURL = url }
    func inject(_ fault: FakePort.Fault) { faults.append(fault) }
    func setLatency(_ value: Duration) { latency = value }
    func reject(_ identifiers: Set<String>) { rejected = identifiers }
    func setMaxBodyBytes(_ bytes: Int) { maxBodyBytes = bytes }
    func expireTokens() { for key in tokens.keys { tokens[key] = .distantPast } }
    func setIntegration(_ value: JSONBox?) { integration = value.map { JSONBox(withIngest($0.value)) } }

    // MARK: Authentication

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
        if let index = faults.firstIndex(where: { request.path.hasPrefix($0.pathPrefix) && ($0.method == nil || $0.method == request.method.rawValue) }) {
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

    // MARK: The integration record

    func getIntegration(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let integration, integration.value["identifier"] as? String == request.pathParameters["id"] else {
            return try Self.json(404, ["ok": false, "error": "not_found"])
        }
        return try Self.json(200, ["ok": true, "integration": integration.value])
    }

    func createIntegration(_ request: HTTPRequest) throws -> HTTPResponse {
        var body = try Self.object(request)
        guard let identifier = body["installationId"] as? String, !identifier.isEmpty else {
            return try Self.json(422, ["ok": false, "error": "installationId is required"])
        }
        if integration?.value["identifier"] as? String == identifier {
            return try Self.json(409, ["ok": false, "error": "identifier_taken"])
        }
        body["identifier"] = identifier
        body = withIngest(body)
        integration = JSONBox(body)
        return try Self.json(200, ["ok": true, "integration": body])
    }

    /// Port's record carries where sync metrics and logs go.
    private func withIngest(_ record: [String: Any]) -> [String: Any] {
        var record = record
        if record["metricAttributes"] == nil { record["metricAttributes"] = ["ingestUrl": baseURL + "/v1/ingest/metrics"] }
        if record["logAttributes"] == nil { record["logAttributes"] = ["ingestUrl": baseURL + "/v1/ingest/logs"] }
        return record
    }

    func patchIntegration(_ request: HTTPRequest) throws -> HTTPResponse {
        guard var current = integration?.value, current["identifier"] as? String == request.pathParameters["id"] else {
            return try Self.json(404, ["ok": false, "error": "not_found"])
        }
        for (key, value) in try Self.object(request) { current[key] = value }
        integration = JSONBox(current)
        return try Self.json(200, ["ok": true, "integration": current])
    }

    func patchConfig(_ request: HTTPRequest) throws -> HTTPResponse {
        guard var current = integration?.value, current["identifier"] as? String == request.pathParameters["id"] else {
            return try Self.json(404, ["ok": false, "error": "not_found"])
        }
        guard let config = try Self.object(request)["config"] as? [String: Any] else {
            return try Self.json(422, ["ok": false, "error": "config must be an object"])
        }
        current["config"] = config
        integration = JSONBox(current)
        return try Self.json(200, ["ok": true, "integration": current])
    }

    func resyncState(_ request: HTTPRequest) throws -> HTTPResponse {
        resyncStates.append(JSONBox(try Self.object(request)))
        return try Self.json(200, ["ok": true, "integration": ["resyncState": ["updatedAt": "now"]]])
    }

    // MARK: Helpers

    static func object(_ request: HTTPRequest) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
            throw HTTPError(.badRequest, "the body must be a JSON object")
        }
        return object
    }

    static func json(_ status: Int, _ object: [String: Any]) throws -> HTTPResponse {
        HTTPResponse.json(HTTPStatus(code: status, reasonPhrase: status < 300 ? "OK" : "Error"),
                          body: Array(try JSONSerialization.data(withJSONObject: object)))
    }

    static func timestamp(_ date: Date = Date()) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

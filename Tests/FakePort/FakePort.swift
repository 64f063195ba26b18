import EventHTTP
import Foundation
import Logging

/// A Port-like API on loopback for tests and benchmarks: the endpoints an integration uses, with
/// Port's limits (20 entities and 1 MiB per bulk request), ownership by `User-Agent`, paging of
/// owned entities, and faults on demand (expired tokens, 429 with `Retry-After`, 500s, slow answers,
/// per-entity errors). It counts requests by endpoint and the most in flight at once.
///
/// It refuses what Port refuses: an upsert into a blueprint that does not exist (404 per entity), a
/// blueprint whose relation targets a missing one, a blueprint created twice (409). It has Port's
/// control plane too: resync requests (a user pressing "Resync" or saving a mapping, through the
/// `/__` controls), the changelog destination it then calls, sync metrics, heartbeats, examples and
/// log ingest.
public final class FakePort: Sendable {
    public struct Fault: Sendable {
        /// Applies to requests whose path starts with this.
        public var pathPrefix: String
        public var status: Int
        public var retryAfterSeconds: Double?
        /// How many matching requests get it.
        public var times: Int
        /// Only requests with this method (nil: any).
        public var method: String?

        public init(pathPrefix: String, status: Int, retryAfterSeconds: Double? = nil, times: Int = 1, method: String? = nil) {
            self.pathPrefix = pathPrefix
            self.status = status
            self.retryAfterSeconds = retryAfterSeconds
            self.times = times
            self.method = method
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
        /// Not Port's: what the tests and the README tour use to act as a Port user, unauthenticated.
        func control(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) -> Route {
            Route(method, pattern, maxBodySize: big, handler: .asynchronous { request in try await handler(request) })
        }
        let routes = [
            Route(.post, "/v1/auth/access_token", maxBodySize: big, handler: .asynchronous { request in
                try await state.issueToken(request)
            }),
            route(.get, "/v1/integration/{id}") { try await state.getIntegration($0) },
            route(.post, "/v1/integration") { try await state.createIntegration($0) },
            route(.patch, "/v1/integration/{id}") { try await state.patchIntegration($0) },
            route(.patch, "/v1/integration/{id}/config") { try await state.patchConfig($0) },
            route(.patch, "/v1/integration/{id}/resync-state") { try await state.resyncState($0) },
            route(.get, "/v1/integration/{id}/resync-request") { try await state.resyncRequest($0) },
            route(.post, "/v1/integration/{id}/kinds/{kind}/examples") { try await state.examples($0) },
            route(.post, "/v1/blueprints/{bp}/entities/bulk") { try await state.bulkUpsert($0) },
            route(.post, "/v1/blueprints/{bp}/entities") { try await state.singleUpsert($0) },
            route(.post, "/v1/blueprints/entities/datasource-entities") { try await state.datasourceEntities($0) },
            route(.post, "/v1/blueprints/{bp}/bulk/entities/delete") { try await state.bulkDelete($0) },
            route(.get, "/v1/blueprints/{bp}") { try await state.getBlueprint($0) },
            route(.post, "/v1/blueprints") { try await state.createBlueprint($0) },
            route(.patch, "/v1/blueprints/{bp}") { try await state.patchBlueprint($0) },
            route(.delete, "/v1/blueprints/{bp}") { try await state.deleteBlueprint($0) },
            route(.delete, "/v1/blueprints/{bp}/all-entities") { try await state.deleteAllEntities($0) },
            route(.post, "/v1/blueprints/{bp}/scorecards") { try await state.createResource($0, collection: "scorecards") },
            route(.post, "/v1/pages") { try await state.createResource($0, collection: "pages") },
            route(.post, "/v1/actions") { try await state.createResource($0, collection: "actions") },
            route(.post, "/v1/ingest/metrics/syncMetrics") { try await state.syncMetricsStarted($0) },
            route(.put, "/v1/ingest/metrics/syncMetrics/resync/{event}/kind/{kind}") { try await state.syncMetricsUpdated($0) },
            route(.post, "/v1/ingest/metrics/heartbeat") { try await state.heartbeat($0) },
            route(.post, "/v1/ingest/logs") { try await state.logs($0) },
            control(.get, "/__stats") { _ in try await state.stats() },
            control(.get, "/__integrations/{id}") { try await state.overview($0) },
            control(.post, "/__resync-request/{id}") { try await state.userRequestsResync($0) },
            control(.put, "/__mapping/{id}") { try await state.userSavesMapping($0) },
        ]
        server = HTTPServer(configuration: .init(host: "127.0.0.1", port: port, eventLoops: 1, maxBodySize: big),
                            router: Router(routes), logger: logger)
    }

    public func start() async throws {
        try await server.start()
        await state.setBaseURL(baseURL)
    }

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
    /// Creates bare blueprints (as a Port user would have), so upserts into them are accepted.
    public func seed(blueprints: [String]) async { await state.seed(blueprints: blueprints) }
    /// What a user pressing "Resync" in Port does: a new resync request (and, when the integration
    /// registered a changelog destination, Port's call to it).
    public func requestResync(integration: String) async { await state.recordResyncRequest(integration) }
    /// What a user saving a mapping in Port does: the new config, and a resync request.
    public func saveMapping(integration: String, config json: String) async throws {
        let config = try JSONSerialization.jsonObject(with: Data(json.utf8))
        await state.saveMapping(integration, config: JSONValueBox(config))
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
    /// The blueprints that exist, by identifier, as JSON texts.
    public var blueprints: [String: String] { get async { await state.blueprints.mapValues(\.text) } }
    /// Scorecards, pages or actions created, as JSON texts.
    public func created(_ collection: String) async -> [String] { await state.resources[collection, default: []].map(\.text) }
    /// The sync-metrics events received, in order (`POST` and `PUT` alike), as JSON texts.
    public var syncMetrics: [String] { get async { await state.syncMetrics.map(\.text) } }
    public var heartbeats: Int { get async { await state.heartbeats } }
    /// The examples last posted per kind, as JSON texts of the `examples` array.
    public var examples: [String: String] { get async { await state.examplesByKind.mapValues(\.text) } }
    /// Log lines shipped to the log ingest, as JSON texts.
    public var shippedLogs: [String] { get async { await state.shippedLogs.map(\.text) } }
    /// Calls Port made to the changelog destination, with their status.
    public var changelogCalls: [Int] { get async { await state.changelogCalls } }
}

/// A JSON object that crosses actor boundaries (built and read with JSONSerialization).
struct JSONBox: @unchecked Sendable {
    let value: [String: Any]
    init(_ value: [String: Any]) { self.value = value }
    var text: String { JSONValueBox(value).text }
}

/// Any JSON value that crosses actor boundaries.
struct JSONValueBox: @unchecked Sendable {
    let value: Any
    init(_ value: Any) { self.value = value }
    var text: String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])) ?? Data(), as: UTF8.self)
    }
}

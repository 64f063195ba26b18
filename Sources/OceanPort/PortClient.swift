import Essentials
import Foundation
public import Logging
public import OceanKit
import OceanEngine

/// Where Port is and who we are to it.
public struct PortSettings: Sendable {
    /// `OCEAN__PORT__CLIENT_ID`
    public var clientID: String
    /// `OCEAN__PORT__CLIENT_SECRET` (never logged, never in errors).
    public var clientSecret: String
    /// `OCEAN__PORT__BASE_URL` (default `https://api.getport.io`).
    public var baseURL: String
    public var integrationType: String
    public var integrationIdentifier: String
    public var integrationVersion: String
    /// Requests in flight at once (default 8).
    public var maxConcurrentRequests: Int
    /// Each attempt's timeout.
    public var requestTimeout: Duration
    public var retryPolicy: RetryPolicy

    public init(
        clientID: String, clientSecret: String, baseURL: String = "https://api.getport.io", integrationType: String,
        integrationIdentifier: String, integrationVersion: String = SwiftOcean.frameworkVersion, maxConcurrentRequests: Int = 8,
        requestTimeout: Duration = .seconds(30), retryPolicy: RetryPolicy = .init()
    ) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.integrationType = integrationType
        self.integrationIdentifier = integrationIdentifier
        self.integrationVersion = integrationVersion
        self.maxConcurrentRequests = maxConcurrentRequests
        self.requestTimeout = requestTimeout
        self.retryPolicy = retryPolicy
    }

    /// How Port knows which integration owns an entity: it stores this as the entity's `$datasource`.
    public var userAgent: String {
        "port-ocean/\(integrationType)/\(integrationVersion)/\(integrationIdentifier)/exporter"
    }
}

/// A failure talking to Port, with what Port said (never the credentials).
public struct PortError: Error, Sendable, CustomStringConvertible {
    public let status: Int?
    public let message: String

    public var description: String { message }
}

/// Port's REST API: authentication with a cached token (refreshed shortly before it expires, and
/// once on a 401), the ownership `User-Agent` on every call, retries and a bound on requests in
/// flight through `RetryingHTTPClient`.
public final class PortClient: Sendable {
    public let settings: PortSettings
    let http: RetryingHTTPClient
    /// The access token: none, being fetched (every caller waits for the one request), or ready.
    private enum TokenState {
        case none
        case fetching(Task<(value: String, expires: ContinuousClock.Instant), any Error>)
        case ready(value: String, expires: ContinuousClock.Instant)
    }

    private let token = Locked(TokenState.none)
    private let logger: Logger

    public init(settings: PortSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        http = RetryingHTTPClient(policy: settings.retryPolicy, timeout: settings.requestTimeout,
                                  maxConcurrentRequests: settings.maxConcurrentRequests, logger: logger)
    }

    public func shutdown() async {
        await http.shutdown()
    }

    /// Calls Port and returns the response (any status); JSON bodies in and out. `path` is a path
    /// on Port's API or an absolute URL Port gave (its metrics and log ingest).
    public func call(_ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil) async throws -> IncomingResponse {
        var refreshed = false
        while true {
            let authorization = try await currentToken()
            var headers: [(name: String, value: String)] = [
                ("Authorization", authorization), ("User-Agent", settings.userAgent), ("Accept", "application/json"),
            ]
            if body != nil { headers.append(("Content-Type", "application/json")) }
            let response = try await http.send(OutgoingRequest(method: method, url: url(path, query: query), headers: headers, body: body))
            if response.status == 401 && !refreshed {
                // The token expired early or was revoked: get a new one, once (requests in flight
                // with the same token share the one new token).
                token.withLock { state in
                    if case .ready(let value, _) = state, value == authorization { state = .none }
                }
                refreshed = true
                continue
            }
            return response
        }
    }

    /// `call`, throwing unless the status is 2xx.
    public func callExpectingSuccess(_ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil) async throws -> IncomingResponse {
        let response = try await call(method, path, query: query, body: body)
        guard response.isSuccess else {
            throw PortError(status: response.status, message: "Port answered \(response.status) to \(method) \(path): \(Self.portMessage(response.body))")
        }
        return response
    }

    private func currentToken() async throws -> String {
        let fetch = token.withLock { state -> Task<(value: String, expires: ContinuousClock.Instant), any Error>? in
            switch state {
            case .ready(_, let expires) where ContinuousClock.now < expires:
                return nil
            case .fetching(let task):
                return task
            case .ready, .none:
                let task = Task { try await self.requestToken() }
                state = .fetching(task)
                return task
            }
        }
        guard let fetch else {
            if case .ready(let value, _) = token.current { return value }
            return try await currentToken()
        }
        do {
            let fetched = try await fetch.value
            token.withLock { state in
                if case .fetching = state { state = .ready(value: fetched.value, expires: fetched.expires) }
            }
            return fetched.value
        } catch {
            token.withLock { state in
                if case .fetching = state { state = .none }
            }
            throw error
        }
    }

    private func requestToken() async throws -> (value: String, expires: ContinuousClock.Instant) {
        let body = try JSONEncoder().encode(PortPayloads.TokenRequest(clientId: settings.clientID, clientSecret: settings.clientSecret))
        let response = try await http.send(OutgoingRequest(
            method: "POST", url: url("/v1/auth/access_token", query: []),
            headers: [("Content-Type", "application/json"), ("User-Agent", settings.userAgent)], body: Array(body)))
        guard response.isSuccess else {
            throw PortError(status: response.status, message: "Port refused the credentials (OCEAN__PORT__CLIENT_ID / OCEAN__PORT__CLIENT_SECRET): \(response.status) \(Self.portMessage(response.body))")
        }
        guard let token = try? JSONDecoder().decode(PortPayloads.TokenResponse.self, from: Data(response.body)),
              let accessToken = token.accessToken, !accessToken.isEmpty
        else {
            throw PortError(status: response.status, message: "Port's token response has no accessToken")
        }
        let type = token.tokenType ?? "Bearer"
        let lifetime = token.expiresIn ?? 3600
        // Renew a minute early (or at half-life for short tokens) so no call goes out with a dying token.
        let margin = min(60, lifetime / 2)
        // A Port or proxy that echoes the Authorization header must not put the live token into a
        // log line, a job's error or the catalog.
        SecretRedactor.register(accessToken)
        logger.debug("port token obtained", metadata: ["port.expires_in": "\(Int(lifetime))"])
        return ("\(type) \(accessToken)", ContinuousClock.now + .milliseconds(Int((lifetime - margin) * 1000)))
    }

    /// `path` on Port's API, or `path` itself when it is an absolute URL (the ingest URLs Port's
    /// integration record names).
    private func url(_ path: String, query: [(String, String)]) -> String {
        let absolute = path.hasPrefix("https://") || path.hasPrefix("http://")
        var components = URLComponents(string: absolute ? path : settings.baseURL + path)
        if !query.isEmpty { components?.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        return components?.string ?? settings.baseURL + path
    }

    /// Port's `message` (or `error`) from an error body, shortened.
    static func portMessage(_ body: [UInt8]) -> String {
        if let error = try? JSONDecoder().decode(PortPayloads.ErrorBody.self, from: Data(body)) {
            if let message = error.message?.stringValue { return String(message.prefix(300)) }
            if let text = error.error?.stringValue { return String(text.prefix(300)) }
        }
        return String(decoding: body.prefix(200), as: UTF8.self)
    }
}

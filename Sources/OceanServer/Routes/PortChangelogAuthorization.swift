import Essentials
import EventHTTP
import OceanKit
import OceanEngine

/// How Port's calls to `POST /resync` (the WEBHOOK listener's changelog destination) are told
/// apart and authenticated. Port cannot send `Authorization: Bearer <OCEAN__HTTP__API_TOKEN>`, so
/// when a token is set the URL registered with Port carries a key instead:
/// `<base URL>/resync?port_key=<key>`, the key being HMAC-SHA256 of the integration's identifier
/// under the API token (stable across restarts, worthless without the token, never the token
/// itself). It is compared in constant time, and masked in every log line. Without a token the
/// routes are open anyway, and the URL only says who calls: `?trigger=port`.
struct PortChangelogAuthorization: Sendable {
    /// Nil when no API token is set.
    let key: String?

    init(apiToken: String?, integrationIdentifier: String) {
        key = apiToken.map { token in
            String(WebhookSignature.header(body: Array("port-changelog/\(integrationIdentifier)".utf8), secret: token).dropFirst("sha256=".count))
        }
        if let key { SecretRedactor.register(key) }
    }

    /// The URL to register with Port.
    func destination(baseURL: String) -> String {
        baseURL + "/resync" + (key.map { "?port_key=" + $0 } ?? "?trigger=port")
    }

    /// `.port` for Port's call; nil for any other caller (who then needs the bearer token). A
    /// wrong key is a 401, not a fall-back to the token.
    func caller(of request: HTTPRequest) throws(HTTPError) -> Job.Trigger? {
        if let given = request.queryValue("port_key") {
            guard let key, ConstantTime.equal(Array(given.utf8), Array(key.utf8)) else {
                throw HTTPError(.unauthorized, "the port_key is wrong")
            }
            return .port
        }
        if key == nil, request.queryValue("trigger") == "port" { return .port }
        return nil
    }
}

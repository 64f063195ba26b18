import Essentials
import EventHTTP

/// `Authorization: Bearer <token>` for the routes that change or reveal state.
struct BearerAuthorization: Sendable {
    let token: String?

    /// Throws 401 unless no token is configured or the request carries it.
    func check(_ request: HTTPRequest) throws(HTTPError) {
        guard let token else { return }
        let challenge: HTTPHeaders = ["WWW-Authenticate": #"Bearer realm="ocean""#]
        guard let header = request.headers["Authorization"] else {
            throw HTTPError(.unauthorized, "this route needs Authorization: Bearer <OCEAN__HTTP__API_TOKEN>", headers: challenge)
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer",
              ConstantTime.equal(Array(parts[1].utf8), Array(token.utf8))
        else {
            throw HTTPError(.unauthorized, "the bearer token is wrong", headers: challenge)
        }
    }
}

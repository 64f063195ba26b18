import EventHTTP
import Ocean

/// The one place where the service's errors become HTTP errors.
enum ErrorResponses {
    static func httpError(_ error: any Error) -> HTTPError {
        switch error {
        case let error as HTTPError:
            return error
        case let error as ResyncError:
            switch error.code {
            case .unknownKind, .unknownJob: return HTTPError(.notFound, error.message)
            case .alreadyFinished: return HTTPError(.conflict, error.message)
            case .shuttingDown: return HTTPError(.unavailable, error.message, headers: ["Retry-After": "5"])
            }
        default:
            return HTTPError(.internalError, "the request failed inside the service")
        }
    }
}

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

/// Comparison whose time does not depend on where the inputs differ.
enum ConstantTime {
    static func equal(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: lhs.count ^ rhs.count)
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}

import Essentials
import EventHTTP
import OceanKit
import OceanEngine

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
            case .disabled: return HTTPError(.conflict, error.message)
            default: return HTTPError(.internalError, error.message)
            }
        case let error as WebhookError:
            switch error.code {
            case .unknownPath, .unknownDelivery: return HTTPError(.notFound, error.message)
            case .invalidJSON, .invalidPayload: return HTTPError(.badRequest, error.message)
            case .unauthenticated: return HTTPError(.unauthorized, error.message)
            case .notReplayable: return HTTPError(.conflict, error.message)
            case .queueFull, .stopped, .storeUnavailable: return HTTPError(.unavailable, error.message, headers: ["Retry-After": "5"])
            default: return HTTPError(.internalError, error.message)
            }
        default:
            return HTTPError(.internalError, "the request failed inside the service")
        }
    }
}

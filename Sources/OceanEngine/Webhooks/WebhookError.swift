import OceanKit
import Essentials
import FoundationEssentials
import JQ
import Logging

/// Why a delivery was refused. The server maps each code to a status in one place.
public struct WebhookError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unknownPath = "unknown_path"
        case invalidJSON = "invalid_json"
        case unauthenticated
        case invalidPayload = "invalid_payload"
        case queueFull = "queue_full"
        case unknownDelivery = "unknown_delivery"
        case notReplayable = "not_replayable"
        case storeUnavailable = "store_unavailable"
        case stopped
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

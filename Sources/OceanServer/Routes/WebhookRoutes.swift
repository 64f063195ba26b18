import EventHTTP
import Foundation
import OceanKit
import OceanEngine

/// `POST /integration/{path...}` (deliveries), `GET /webhooks/deliveries`,
/// `POST /webhooks/deliveries/{id}/replay`.
struct WebhookRoutes: Sendable {
    let dispatcher: WebhookDispatcher
    let authorization: BearerAuthorization
    let maxBodySize: Int

    var routes: [Route] {
        let dispatcher = self.dispatcher
        let authorization = self.authorization
        return [
            // Deliveries authenticate with their own signatures (the processors), not the API token.
            Route(.post, "/integration/{path...}", maxBodySize: maxBodySize, handler: .asynchronous { request in
                let path = "/" + (request.pathParameters["path"] ?? "")
                do {
                    let acceptance = try await dispatcher.accept(path: path, headers: request.headers.fields, body: request.body)
                    return try HTTPResponse.json(.accepted, Accepted(id: acceptance.id, ignored: acceptance.ignored,
                                                                     duplicate: acceptance.duplicate))
                } catch {
                    throw ErrorResponses.httpError(error)
                }
            }),
            Route(.get, "/webhooks/deliveries", handler: .asynchronous { request in
                try authorization.check(request)
                let status = try QueryParameters.choice(request, "status", of: Delivery.Status.self)
                let limit = try QueryParameters.limit(request, default: 50, maximum: 500)
                do {
                    let deliveries = try await dispatcher.deliveries(status: status, limit: limit)
                    return try HTTPResponse.json(.ok, DeliveryList(deliveries: deliveries.map(DeliveryView.init)), encoder: Job.encoder)
                } catch {
                    throw ErrorResponses.httpError(error)
                }
            }),
            Route(.post, "/webhooks/deliveries/{id}/replay", maxBodySize: 0, handler: .asynchronous { request in
                try authorization.check(request)
                do {
                    let delivery = try await dispatcher.replay(request.pathParameters["id"] ?? "")
                    return try HTTPResponse.json(.accepted, DeliveryView(delivery), encoder: Job.encoder)
                } catch {
                    throw ErrorResponses.httpError(error)
                }
            }),
        ]
    }

    private struct Accepted: Encodable {
        let id: String
        let ignored: Bool
        let duplicate: Bool
    }

    private struct DeliveryList: Encodable {
        let deliveries: [DeliveryView]
    }

    /// A delivery without its body (which may hold personal data): what operators need.
    struct DeliveryView: Encodable {
        let id: String
        let path: String
        let orderingKey: String
        let status: String
        let attempts: Int
        let lastError: String?
        let acceptedAt: Date
        let nextAttemptAt: Date
        let appliedAt: Date?
        let bodyBytes: Int

        init(_ delivery: Delivery) {
            id = delivery.id
            path = delivery.path
            orderingKey = delivery.orderingKey
            status = delivery.status.rawValue
            attempts = delivery.attempts
            lastError = delivery.lastError
            acceptedAt = delivery.acceptedAt
            nextAttemptAt = delivery.nextAttemptAt
            appliedAt = delivery.appliedAt
            bodyBytes = delivery.body.count
        }

        private enum CodingKeys: String, CodingKey {
            case id, path, orderingKey, status, attempts, lastError, acceptedAt, nextAttemptAt, appliedAt, bodyBytes
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(path, forKey: .path)
            try container.encode(orderingKey, forKey: .orderingKey)
            try container.encode(status, forKey: .status)
            try container.encode(attempts, forKey: .attempts)
            try container.encode(lastError, forKey: .lastError)
            try container.encode(acceptedAt.timeIntervalSince1970, forKey: .acceptedAt)
            try container.encode(nextAttemptAt.timeIntervalSince1970, forKey: .nextAttemptAt)
            try container.encode(appliedAt?.timeIntervalSince1970, forKey: .appliedAt)
            try container.encode(bodyBytes, forKey: .bodyBytes)
        }
    }
}

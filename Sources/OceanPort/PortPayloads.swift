import OceanKit

/// The bodies swift-ocean sends to Port and reads from it, as Port's REST API names their fields.
/// Fields Port may leave out are optional, and fields whose type Port does not pin down are `JSON`,
/// so an answer with more or looser fields still decodes.
enum PortPayloads {
    /// `POST /v1/auth/access_token`.
    struct TokenRequest: Encodable {
        let clientId: String
        let clientSecret: String
    }

    struct TokenResponse: Decodable {
        let accessToken: String?
        let tokenType: String?
        let expiresIn: Double?
    }

    /// Port's error bodies: `{"message": ...}` or `{"error": ...}`.
    struct ErrorBody: Decodable {
        let message: JSON?
        let error: JSON?
    }

    /// `POST /v1/integration`.
    struct IntegrationCreate: Encodable {
        let installationId: String
        let installationAppType: String
        let version: String
        let config: JSON?
    }

    /// `GET /v1/integration/{id}`.
    struct IntegrationEnvelope: Decodable {
        let integration: Integration?

        struct Integration: Decodable {
            let version: JSON?
            let installationAppType: JSON?
            let config: JSON?
            let arePortResourcesInitialized: JSON?
            let metricAttributes: JSON?
            let logAttributes: JSON?
        }
    }

    /// `PATCH /v1/integration/{id}`: only what changed.
    struct IntegrationChanges: Encodable {
        var version: String?
        var installationAppType: String?

        var isEmpty: Bool { version == nil && installationAppType == nil }
    }

    /// `POST /v1/blueprints/{blueprint}/entities/bulk`: what was written and what was refused.
    struct BulkUpsertResponse: Decodable {
        let entities: [Written]?
        let errors: [Refused]?

        struct Written: Decodable {
            let index: Int?
            let identifier: JSON?
        }

        struct Refused: Decodable {
            let index: Int?
            let identifier: JSON?
            let statusCode: JSON?
            let error: JSON?
            let message: JSON?
        }
    }

    /// `POST /v1/blueprints/{blueprint}/bulk/entities/delete`.
    struct BulkDelete: Encodable {
        let entities: [String]
    }

    struct BulkDeleteResponse: Decodable {
        let deletedEntities: [JSON]?
    }

    /// `POST /v1/blueprints/entities/datasource-entities`: one page of what an integration owns.
    struct DatasourceRequest: Encodable {
        let datasourcePrefix: String
        let datasourceSuffix: String
        let limit: Int
        let from: String?

        enum CodingKeys: String, CodingKey {
            case datasourcePrefix = "datasource_prefix"
            case datasourceSuffix = "datasource_suffix"
            case limit, from
        }
    }

    struct DatasourceResponse: Decodable {
        let entities: [Owned]?
        let next: String?

        struct Owned: Decodable {
            let blueprint: JSON?
            let identifier: JSON?
        }
    }
}

extension JSON {
    /// The value as text for a message: a string as is, anything else as JSON.
    var messageText: String {
        stringValue ?? jsonText
    }
}

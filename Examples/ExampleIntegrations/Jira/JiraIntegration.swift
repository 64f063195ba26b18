import Foundation
public import OceanKit

/// A Jira-style integration: one resync handler per kind, and selector fields of Jira's own
/// (`expand`, `jql`) passed on to Jira's API.
public enum JiraIntegration {
    public enum ObjectKind: String, CaseIterable, Sendable {
        case project
        case issue
    }

    /// A resource's selector: Ocean's `query`, plus what Jira's API takes.
    struct JiraSelector: Decodable {
        let query: String
        /// Sent to Jira as `expand` (`insight` adds a project's issue counts).
        let expand: String?
        /// Which issues to fetch.
        let jql: String?
    }

    /// The integration; `http` is shared by every resync (retries, backoff, a bound on requests in
    /// flight, and Jira's rate limit).
    public static func make(http: RetryingHTTPClient = RetryingHTTPClient(maxConcurrentRequests: 4, requestsPerSecond: 10, burst: 10)) -> OceanIntegration {
        let ocean = OceanIntegration(type: "jira", defaultMapping: defaultMapping, spec: spec,
                                     resources: PortResources(blueprints: blueprints))

        ocean.onResync(ObjectKind.project) { context in
            let selector = try context.selector(as: JiraSelector.self)
            let jira = try JiraAPI(http: http, config: context.integrationConfig)
            return jira.pages(of: "/rest/api/3/project/search", itemsKey: "values", parameters: ["expand": selector.expand])
        }

        ocean.onResync(ObjectKind.issue) { context in
            let selector = try context.selector(as: JiraSelector.self)
            let jira = try JiraAPI(http: http, config: context.integrationConfig)
            return jira.pages(of: "/rest/api/3/search", itemsKey: "issues", parameters: [
                "jql": selector.jql ?? "order by created", "expand": selector.expand,
            ])
        }

        // Live issue changes at POST /integration/webhook.
        ocean.addWebhookProcessor("/webhook", IssueWebhook())
        return ocean
    }

    /// What the integration takes (`OCEAN__INTEGRATION__CONFIG__JIRA_HOST`, ...): checked at start.
    public static let spec = """
        type: jira
        configurations:
          - name: jiraHost
            type: url
            required: true
            description: Your Jira, e.g. https://example.atlassian.net
          - name: atlassianUserEmail
            type: string
            required: true
          - name: atlassianUserToken
            type: string
            required: true
            sensitive: true
          - name: webhookSecret
            type: string
            required: false
            sensitive: true
            description: The secret of the Jira webhook; deliveries without its signature are refused
        """

    /// Used when the user configures none: Ocean's Jira mapping, for projects and issues.
    public static let defaultMapping = """
        resources:
          - kind: project
            selector:
              query: 'true'
              expand: insight
            port:
              entity:
                mappings:
                  identifier: .key
                  title: .name
                  blueprint: '"jiraProject"'
                  properties:
                    url: (.self | split("/") | .[:3] | join("/")) + "/projects/" + .key
                    totalIssues: .insight.totalIssueCount
          - kind: issue
            selector:
              query: 'true'
              jql: statusCategory != Done
            port:
              entity:
                mappings:
                  identifier: .key
                  title: .fields.summary
                  blueprint: '"jiraIssue"'
                  properties:
                    status: .fields.status.name
                  relations:
                    project: .fields.project.key
        """

    /// What a fresh Port organisation gets on first start (`ocean defaults apply` by hand).
    public static let blueprints = """
        [
          {"identifier": "jiraProject", "title": "Jira Project", "icon": "Jira",
           "schema": {"properties": {"url": {"type": "string", "format": "url", "title": "URL"},
                                     "totalIssues": {"type": "number", "title": "Total issues"}}, "required": []},
           "relations": {}},
          {"identifier": "jiraIssue", "title": "Jira Issue", "icon": "Jira",
           "schema": {"properties": {"status": {"type": "string", "title": "Status"}}, "required": []},
           "relations": {"project": {"title": "Project", "target": "jiraProject", "required": false, "many": false}}}
        ]
        """
}

/// Jira's issue events (`jira:issue_created`, `_updated`, `_deleted`), signed with the webhook's
/// secret in `X-Hub-Signature` (`sha256=<hex HMAC-SHA256 of the body>`). Without a secret every
/// delivery is refused: a webhook anyone can call is not one to apply.
struct IssueWebhook: WebhookProcessor {
    func shouldProcess(_ event: WebhookEvent) -> Bool {
        event.payload["webhookEvent"]?.stringValue?.hasPrefix("jira:issue_") == true
    }

    func matchingKinds(_ event: WebhookEvent) -> [String] {
        [JiraIntegration.ObjectKind.issue.rawValue]
    }

    func authenticate(_ event: WebhookEvent, config: IntegrationConfig) -> Bool {
        guard let secret = config.string("webhookSecret"), let signature = event.headers["x-hub-signature"] else { return false }
        return WebhookSignature.matches(header: signature, body: event.rawBody, secret: secret)
    }

    func validate(_ event: WebhookEvent) -> Bool {
        event.payload["issue"]?["key"]?.stringValue != nil
    }

    func handle(_ event: WebhookEvent, resource: ResourceConfig) async throws -> WebhookResults {
        guard let issue = event.payload["issue"] else { return WebhookResults() }
        return event.payload["webhookEvent"]?.stringValue == "jira:issue_deleted"
            ? WebhookResults(deleted: [issue]) : WebhookResults(updated: [issue])
    }

    /// The events of one issue are applied in order.
    func orderingKey(_ event: WebhookEvent) -> String {
        event.payload["issue"]?["key"]?.stringValue ?? event.path
    }
}

/// Jira's REST API: pages of `startAt`/`maxResults`, the items under `values` or `issues`, the end
/// told by `isLast` or `total`.
struct JiraAPI: Sendable {
    let http: RetryingHTTPClient
    let host: String
    let authorization: String

    init(http: RetryingHTTPClient, config: IntegrationConfig) throws {
        self.http = http
        host = try config.requiredString("jiraHost")
        let credentials = try config.requiredString("atlassianUserEmail") + ":" + config.requiredString("atlassianUserToken")
        authorization = "Basic " + Data(credentials.utf8).base64EncodedString()
    }

    /// Every page of `path`, fetched one at a time as the resync takes them.
    func pages(of path: String, itemsKey: String, parameters: [String: String?]) -> Paginated<[JSON]> {
        http.paginate { cursor in
            let startAt = Int(cursor ?? "0") ?? 0
            var query = ["startAt=\(startAt)", "maxResults=50"]
            for (name, value) in parameters.sorted(by: { $0.key < $1.key }) {
                if let value, let encoded = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
                    query.append("\(name)=\(encoded)")
                }
            }
            let page = try await http.json(OutgoingRequest(
                method: "GET", url: host + path + "?" + query.joined(separator: "&"),
                headers: [("Authorization", authorization), ("Accept", "application/json")]))
            let items = page[itemsKey]?.arrayValue ?? []
            let next = startAt + items.count
            let isLast = page["isLast"]?.boolValue ?? (next >= Int(page["total"]?.numberValue ?? 0))
            return (items, isLast || items.isEmpty ? nil : String(next))
        }
    }
}

public import OceanKit

/// An Octopus-style integration: one generic handler for every kind, in the push form (it sends
/// batches as it fetches them), which fetches the kind's pages in every space at once and merges them.
public enum OctopusIntegration {
    public static func make(http: RetryingHTTPClient = RetryingHTTPClient(maxConcurrentRequests: 4, requestsPerSecond: 10, burst: 10)) -> OceanIntegration {
        let ocean = OceanIntegration(type: "octopus", defaultMapping: defaultMapping, spec: spec)

        ocean.onResync { kind, context, send in
            let octopus = try OctopusAPI(http: http, config: context.integrationConfig)
            if kind == "space" {
                for try await page in octopus.pages(of: "/api/spaces") { try await send(page) }
                return
            }
            // Spaces first (a handful), then the kind's pages of all of them concurrently: each
            // space's pages are fetched only as fast as the resync takes them.
            var spaces: [String] = []
            for try await page in octopus.pages(of: "/api/spaces") {
                spaces += page.compactMap { $0["Id"]?.stringValue }
            }
            for try await page in mergeBatches(spaces.map { space in octopus.pages(of: "/api/\(space)/\(kind)s") }) {
                try await send(page)
            }
        }
        return ocean
    }

    public static let spec = """
        type: octopus
        configurations:
          - name: serverUrl
            type: url
            required: true
            description: Your Octopus Deploy server, e.g. https://example.octopus.app
          - name: octopusApiKey
            type: string
            required: true
            sensitive: true
        """

    /// Ocean's Octopus mapping, for spaces, projects and releases.
    public static let defaultMapping = """
        resources:
          - kind: space
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: .Id
                  title: .Name
                  blueprint: '"octopusSpace"'
                  properties:
                    description: .Description
          - kind: project
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: .Id
                  title: .Name
                  blueprint: '"octopusProject"'
                  properties:
                    description: .Description
                    isDisabled: .IsDisabled
                  relations:
                    space: .SpaceId
          - kind: release
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: .Id
                  title: .ProjectId + "(" + .Version + ")"
                  blueprint: '"octopusRelease"'
                  properties:
                    version: .Version
                  relations:
                    project: .ProjectId
        """
}

/// Octopus Deploy's REST API: pages of `skip`/`take` with the items under `Items` and the count in
/// `TotalResults`; the API key in `X-Octopus-ApiKey`.
struct OctopusAPI: Sendable {
    let http: RetryingHTTPClient
    let server: String
    let apiKey: String

    init(http: RetryingHTTPClient, config: IntegrationConfig) throws {
        self.http = http
        server = try config.requiredString("serverUrl")
        apiKey = try config.requiredString("octopusApiKey")
    }

    func pages(of path: String) -> Paginated<[JSON]> {
        http.paginate { cursor in
            let skip = Int(cursor ?? "0") ?? 0
            let page = try await http.json(OutgoingRequest(
                method: "GET", url: "\(server)\(path)?skip=\(skip)&take=100", headers: [("X-Octopus-ApiKey", apiKey)]))
            let items = page["Items"]?.arrayValue ?? []
            let next = skip + items.count
            return (items, items.isEmpty || next >= Int(page["TotalResults"]?.numberValue ?? 0) ? nil : String(next))
        }
    }
}

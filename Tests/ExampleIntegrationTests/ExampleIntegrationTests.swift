import EventHTTP
import ExampleIntegrations
import Foundation
import Logging
import OceanKit
import OceanTesting
import Testing
import TestSupport

/// The guide's two integrations, run with `OceanTesting` against small Jira-like and Octopus-like
/// APIs on loopback: the guide's code works as written, and is tested the way the guide says.
@Suite("the guide's example integrations")
struct ExampleIntegrationTests {
    static var quiet: Logger {
        var logger = Logger(label: "example")
        logger.logLevel = .critical
        return logger
    }

    /// Serves `routes` on a free loopback port.
    static func serve(_ routes: [Route]) async throws -> HTTPServer {
        let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), router: Router(routes), logger: quiet)
        try await server.start()
        return server
    }

    static func json(_ value: Any) throws -> HTTPResponse {
        .json(.ok, body: Array(try JSONSerialization.data(withJSONObject: value)))
    }

    /// A Jira-like API: 120 projects (`insight` when expanded), 60 issues, in pages of 50.
    static func jiraRoutes(_ seen: SeenQueries) -> [Route] {
        [
            Route(.get, "/rest/api/3/project/search", handler: .asynchronous { request in
                #expect(request.headers["Authorization"] == "Basic " + Data("me@example.com:jira-token".utf8).base64EncodedString())
                await seen.add(request.query ?? "")
                let startAt = Int(request.queryValues("startAt").first ?? "0") ?? 0
                let keys = Array((0..<120).map { "P\($0)" }[startAt..<min(120, startAt + 50)])
                let insight = request.queryValues("expand").first == "insight"
                return try Self.json([
                    "isLast": startAt + keys.count >= 120,
                    "values": keys.map { key -> [String: Any] in
                        var project: [String: Any] = ["key": key, "name": "Project \(key)", "self": "https://jira.example/rest/api/3/project/\(key)"]
                        if insight { project["insight"] = ["totalIssueCount": 7] }
                        return project
                    },
                ])
            }),
            Route(.get, "/rest/api/3/search", handler: .asynchronous { request in
                await seen.add(request.query ?? "")
                let startAt = Int(request.queryValues("startAt").first ?? "0") ?? 0
                let issues = (startAt..<min(60, startAt + 50)).map { index -> [String: Any] in
                    ["key": "P0-\(index)", "fields": ["summary": "Issue \(index)", "status": ["name": "Open"], "project": ["key": "P0"]]]
                }
                return try Self.json(["total": 60, "startAt": startAt, "issues": issues])
            }),
        ]
    }

    @Test("Jira-style: a handler per kind; `expand` and `jql` reach the API; pages are followed")
    func jira() async throws {
        let seen = SeenQueries()
        let server = try await Self.serve(Self.jiraRoutes(seen))
        let http = RetryingHTTPClient(logger: Self.quiet)
        let tester = try await IntegrationTester(JiraIntegration.make(http: http), config: [
            "jiraHost": "http://127.0.0.1:\(server.port!)", "atlassianUserEmail": "me@example.com",
            "atlassianUserToken": "jira-token", "webhookSecret": "hook-secret",
        ])
        let run = try await tester.resync()

        // A live change through the webhook: applied with the issue kind's mapping, then deleted.
        func event(_ name: String, _ key: String) -> [UInt8] {
            Array(#"{"webhookEvent":"jira:issue_\#(name)","issue":{"key":"\#(key)","fields":{"summary":"Live","status":{"name":"Done"},"project":{"key":"P0"}}}}"#.utf8)
        }
        let created = event("created", "P0-999")
        let signed = [(name: "X-Hub-Signature", value: WebhookSignature.header(body: created, secret: "hook-secret"))]
        let applied = try await tester.deliver(path: "/webhook", headers: signed, body: created)
        #expect(applied.delivery?.status == .done, "\(String(describing: applied.delivery))")
        let live = try #require(applied.entities(blueprint: "jiraIssue").first { $0["identifier"]?.stringValue == "P0-999" })
        #expect(live["properties"]?["status"]?.stringValue == "Done")
        let deleted = event("deleted", "P0-999")
        let gone = try await tester.deliver(path: "/webhook", headers: [
            (name: "X-Hub-Signature", value: WebhookSignature.header(body: deleted, secret: "hook-secret")),
        ], body: deleted)
        #expect(!gone.entities.contains { $0["identifier"]?.stringValue == "P0-999" })
        #expect(gone.entities(blueprint: "jiraIssue").count == 60)
        do {
            _ = try await tester.deliver(path: "/webhook", headers: [(name: "X-Hub-Signature", value: "sha256=00")], body: created)
            Issue.record("a delivery with a wrong signature was applied")
        } catch {
            #expect(error.code == .deliveryRefused)
        }
        await tester.close()
        await http.shutdown()
        await server.shutdown()

        #expect(run.job.status == .succeeded, "\(run.job)")
        #expect(run.entities(blueprint: "jiraProject").count == 120)
        #expect(run.entities(blueprint: "jiraIssue").count == 60)
        let project = try #require(run.entities(blueprint: "jiraProject").first { $0["identifier"]?.stringValue == "P7" })
        #expect(project["properties"]?["totalIssues"]?.numberValue == 7)
        #expect(project["properties"]?["url"]?.stringValue == "https://jira.example/projects/P7")
        #expect(tester.logs.contains { $0.message.description == "job finished" && $0.metadata["job.status"] == "succeeded" })
        let queries = await seen.all
        #expect(queries.contains { $0.contains("expand=insight") })
        #expect(queries.contains { $0.contains("jql=statusCategory%20%21%3D%20Done") })
        #expect(queries.filter { $0.contains("startAt=") }.count == 3 + 2)
    }

    @Test("Octopus-style: one handler for every kind; the pages of every space merged")
    func octopus() async throws {
        let spaces = ["Spaces-1", "Spaces-2", "Spaces-3"]
        @Sendable func page(_ request: HTTPRequest, _ all: [[String: Any]]) throws -> HTTPResponse {
            #expect(request.headers["X-Octopus-ApiKey"] == "API-KEY")
            let skip = Int(request.queryValues("skip").first ?? "0") ?? 0
            let take = Int(request.queryValues("take").first ?? "100") ?? 100
            return try Self.json(["TotalResults": all.count, "Items": Array(all[min(skip, all.count)..<min(all.count, skip + take)])])
        }
        let server = try await Self.serve([
            Route(.get, "/api/spaces", handler: .immediate { request in
                (try? page(request, spaces.map { ["Id": $0, "Name": $0, "Description": "space"] })) ?? .error(HTTPError(.internalError, "x"))
            }),
            Route(.get, "/api/{space}/{collection}", handler: .immediate { request in
                let space = request.pathParameters["space"] ?? ""
                let items: [[String: Any]]
                switch request.pathParameters["collection"] {
                case "projects": items = (0..<150).map { ["Id": "\(space)-Projects-\($0)", "Name": "P\($0)", "SpaceId": space, "IsDisabled": false] }
                case "releases": items = (0..<30).map { ["Id": "\(space)-Releases-\($0)", "ProjectId": "\(space)-Projects-0", "Version": "1.\($0)"] }
                default: return .error(HTTPError(.notFound, "no such collection"))
                }
                return (try? page(request, items)) ?? .error(HTTPError(.internalError, "x"))
            }),
        ])
        let http = RetryingHTTPClient(logger: Self.quiet)
        let tester = try await IntegrationTester(OctopusIntegration.make(http: http), config: [
            "serverUrl": "http://127.0.0.1:\(server.port!)", "octopusApiKey": "API-KEY",
        ])
        let run = try await tester.resync()
        await tester.close()
        await http.shutdown()
        await server.shutdown()

        #expect(run.job.status == .succeeded, "\(run.job)")
        #expect(run.entities(blueprint: "octopusSpace").count == 3)
        #expect(run.entities(blueprint: "octopusProject").count == 450)
        #expect(run.entities(blueprint: "octopusRelease").count == 90)
        let release = try #require(run.entities(blueprint: "octopusRelease").first)
        #expect(release["title"]?.stringValue?.hasPrefix("Spaces-") == true)
    }

    @Test("their specs are checked: a missing setting is refused with its name")
    func specsAndMappings() async throws {
        for integration in [JiraIntegration.make(), OctopusIntegration.make()] {
            let spec = try IntegrationSpec.parse(try #require(integration.spec))
            #expect(spec.type == integration.type)
            #expect(spec.resolve([:]).problems.count == 2 + (integration.type == "jira" ? 1 : 0))
            do {
                _ = try await IntegrationTester(integration)
                Issue.record("started without its required settings")
            } catch {
                #expect(error.code == .invalidConfig)
                #expect(error.message.contains(integration.type == "jira" ? "JIRA_HOST" : "SERVER_URL"), "\(error)")
            }
        }
    }

    @Test("a mapping that does not compile is refused before anything runs")
    func brokenMapping() async throws {
        do {
            _ = try await IntegrationTester(OctopusIntegration.make(), config: ["serverUrl": "http://127.0.0.1:1", "octopusApiKey": "k"],
                                            mapping: "resources:\n  - kind: space\n    selector:\n      query: 'true'\n    port:\n      entity:\n        mappings:\n          identifier: .Id | ]\n          blueprint: '\"s\"'\n")
            Issue.record("a broken mapping was accepted")
        } catch {
            #expect(error.code == .invalidMapping)
            #expect(error.message.contains("identifier"), "\(error)")
        }
    }
}

extension ExampleIntegrationTests {
    @Test("the Jira-style integration as its own binary (OceanService.run): its spec is checked, ONCE resyncs and exits")
    func jiraBinary() async throws {
        let missing = try await OceanProcess.run([], environment: ["OCEAN__EVENT_LISTENER__TYPE": "ONCE"], binary: "jira-example")
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("OCEAN__INTEGRATION__CONFIG__JIRA_HOST is required by the integration's spec"))
        #expect(missing.stderr.contains("OCEAN__INTEGRATION__CONFIG__ATLASSIAN_USER_TOKEN is required"))

        let server = try await Self.serve(Self.jiraRoutes(SeenQueries()))
        let folder = try OceanProcess.temporaryDirectory()
        let run = try await OceanProcess.run([], environment: [
            "OCEAN__EVENT_LISTENER__TYPE": "ONCE", "OCEAN__INTEGRATION__CONFIG__JIRA_HOST": "http://127.0.0.1:\(server.port!)",
            "OCEAN__INTEGRATION__CONFIG__ATLASSIAN_USER_EMAIL": "me@example.com",
            "OCEAN__INTEGRATION__CONFIG__ATLASSIAN_USER_TOKEN": "jira-token",
        ], directory: folder, binary: "jira-example")
        await server.shutdown()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains(#""job.status":"succeeded""#))
        #expect(!run.stderr.contains("jira-token"))
    }
}

actor SeenQueries {
    var all: [String] = []
    func add(_ query: String) { all.append(query) }
}

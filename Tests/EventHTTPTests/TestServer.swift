import EventHTTP
import Foundation
import TestSupport
import Logging

/// Starts a real server on an ephemeral loopback port, runs `body`, and shuts the server down.
func withServer(
    _ routes: [Route],
    configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    _ body: (HTTPServer, Int) async throws -> Void
) async throws {
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    var logger = Logger(label: "test.http")
    logger.logLevel = .critical
    let server = HTTPServer(configuration: configuration, router: Router(routes), logger: logger)
    try await server.start()
    do {
        try await body(server, server.port!)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

/// Routes the tests share: immediate, asynchronous, parameterised, slow, failing.
enum TestRoutes {
    static let ok = Array(#"{"ok":true}"#.utf8)

    static var all: [Route] {
        [
            Route(.get, "/ping", handler: .immediate { _ in .json(.ok, body: ok) }),
            Route(.get, "/jobs/{id}", handler: .asynchronous { request in
                try .json(.ok, ["id": request.pathParameters["id"] ?? ""])
            }),
            Route(.post, "/jobs/{id}/cancel", handler: .asynchronous { request in
                try .json(.accepted, ["cancelled": request.pathParameters["id"] ?? ""])
            }),
            Route(.post, "/integration/{path...}", handler: .asynchronous { request in
                try .json(.accepted, ["path": request.pathParameters["path"] ?? "", "bytes": "\(request.body.count)"])
            }),
            Route(.post, "/echo", handler: .asynchronous { request in
                HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream"], body: request.body)
            }),
            Route(.post, "/large", maxBodySize: 4 << 20, handler: .asynchronous { request in
                try .json(.ok, ["bytes": request.body.count])
            }),
            Route(.get, "/query", handler: .immediate { request in
                (try? .json(.ok, ["status": request.queryValues("status"), "limit": request.queryValues("limit")]))
                    ?? HTTPResponse(status: .internalServerError)
            }),
            Route(.get, "/slow", handler: .asynchronous { request in
                let milliseconds = Int(request.queryValue("ms") ?? "300") ?? 300
                try? await Task.sleep(for: .milliseconds(milliseconds))
                return .json(.ok, body: ok)
            }),
            Route(.get, "/hang", handler: .asynchronous { _ in
                // Does not return within any test: only shutdown answers it.
                try? await Task.sleep(for: .seconds(600))
                return HTTPResponse(status: .ok)
            }),
            Route(.get, "/other-thread", handler: .asynchronous { _ in
                // Completed by a thread that is neither the loop nor a Swift concurrency thread.
                let thread = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
                    Thread.detachNewThread {
                        Thread.sleep(forTimeInterval: 0.05)
                        continuation.resume(returning: "\(pthread_self())")
                    }
                }
                return try .json(.ok, ["completedOn": thread])
            }),
            Route(.get, "/refuse", handler: .asynchronous { _ in
                throw HTTPError(.conflict, "already finished")
            }),
            Route(.get, "/crash", handler: .asynchronous { _ in
                struct Secretive: Error { let token = "s3cr3t-token" }
                throw Secretive()
            }),
        ]
    }
}

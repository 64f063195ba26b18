@testable import EventHTTP
import Testing

@Suite("Router")
struct RouterTests {
    let router = Router([
        Route(.get, "/health", handler: .immediate { _ in HTTPResponse(status: .ok) }),
        Route(.post, "/resync", handler: .immediate { _ in HTTPResponse(status: .accepted) }),
        Route(.post, "/resync/{kind}", handler: .immediate { _ in HTTPResponse(status: .accepted) }),
        Route(.get, "/jobs/{id}", handler: .immediate { _ in HTTPResponse(status: .ok) }),
        Route(.post, "/jobs/{id}/cancel", handler: .immediate { _ in HTTPResponse(status: .accepted) }),
        Route(.post, "/integration/{path...}", handler: .immediate { _ in HTTPResponse(status: .accepted) }),
    ])

    @Test("matches literal and parameterised paths", arguments: [
        (HTTPMethod.get, "/health", "/health", [String: String]()),
        (.head, "/health", "/health", [:]),
        (.post, "/resync", "/resync", [:]),
        (.post, "/resync/fake-person", "/resync/{kind}", ["kind": "fake-person"]),
        (.post, "/resync/a%20b", "/resync/{kind}", ["kind": "a b"]),
        (.get, "/jobs/42", "/jobs/{id}", ["id": "42"]),
        (.post, "/jobs/42/cancel", "/jobs/{id}/cancel", ["id": "42"]),
        (.post, "/integration/webhook", "/integration/{path...}", ["path": "webhook"]),
        (.post, "/integration/a/b/c", "/integration/{path...}", ["path": "a/b/c"]),
    ])
    func matches(method: HTTPMethod, path: String, pattern: String, parameters: [String: String]) {
        guard case .found(let route, let bound) = router.match(method, path: path) else {
            Issue.record("\(method) \(path) did not match")
            return
        }
        #expect(route.pattern == pattern)
        #expect(bound == parameters)
    }

    @Test("unknown paths are not found", arguments: [
        "/", "/nope", "/health/", "/health/x", "/jobs", "/jobs/", "/jobs//cancel", "/integration", "/integration/",
        "/integration/a//b", "health", "/resync/x/y",
    ])
    func notFound(path: String) {
        guard case .notFound = router.match(.get, path: path) else {
            Issue.record("\(path) should not match, got \(router.match(.get, path: path))")
            return
        }
    }

    @Test("a known path with the wrong method lists the allowed ones", arguments: [
        (HTTPMethod.post, "/health", [HTTPMethod.get, .head]),
        (.delete, "/jobs/7", [.get, .head]),
        (.get, "/resync", [.post]),
        (.get, "/integration/webhook", [.post]),
    ])
    func methodNotAllowed(method: HTTPMethod, path: String, allowed: [HTTPMethod]) {
        guard case .methodNotAllowed(let methods) = router.match(method, path: path) else {
            Issue.record("\(method) \(path) should be 405")
            return
        }
        #expect(methods == allowed)
    }

    @Test("malformed percent-encoding in a parameter is a bad path", arguments: ["/jobs/%zz", "/jobs/%4", "/jobs/%ff", "/jobs/a%00b"])
    func badPath(path: String) {
        guard case .badPath = router.match(.get, path: path) else {
            Issue.record("\(path) should be a bad path")
            return
        }
    }

    @Test("the route table lists every route")
    func table() {
        #expect(router.table.count == 6)
        #expect(router.table.contains { $0.method == .post && $0.pattern == "/integration/{path...}" })
    }
}

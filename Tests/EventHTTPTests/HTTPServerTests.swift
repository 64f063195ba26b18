import EventHTTP
import Essentials
import Foundation
import TestSupport
import Testing

@Suite("HTTP server on evhttp, over real sockets")
struct HTTPServerTests {
    @Test("immediate and asynchronous routes answer with JSON and a request id")
    func answers() async throws {
        try await withServer(TestRoutes.all) { _, port in
            let ping = try await fetch(port: port, "GET", "/ping")
            #expect(ping.status == 200)
            #expect(ping.text == #"{"ok":true}"#)
            #expect(ping.header("Content-Type") == "application/json")
            #expect(ping.header("X-Request-ID")?.isEmpty == false)
            // One Date, in the IMF-fixdate form, now (the server formats it once a second).
            let date = try #require(ping.header("Date"))
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let parsed = try #require(formatter.date(from: date), "\(date)")
            #expect(formatter.string(from: parsed) == date)
            #expect(abs(parsed.timeIntervalSinceNow) < 5)

            let job = try await fetch(port: port, "GET", "/jobs/abc%2Fdef")
            #expect(job.status == 200)
            #expect(job.json?["id"] as? String == "abc/def")

            let webhook = try await fetch(port: port, "POST", "/integration/hooks/github", body: Array("{}".utf8))
            #expect(webhook.status == 202)
            #expect(webhook.json?["path"] as? String == "hooks/github")

            let query = try await fetch(port: port, "GET", "/query?status=running&status=failed%21&limit=5")
            #expect(query.json?["status"] as? [String] == ["running", "failed!"])
            #expect(query.json?["limit"] as? [String] == ["5"])
        }
    }

    @Test("X-Request-ID is echoed when sane and generated otherwise")
    func requestID() async throws {
        try await withServer(TestRoutes.all) { _, port in
            let echoed = try await fetch(port: port, "GET", "/ping", headers: [("X-Request-ID", "trace-123")])
            #expect(echoed.header("X-Request-ID") == "trace-123")
            let tooLong = String(repeating: "x", count: 200)
            let replaced = try await fetch(port: port, "GET", "/ping", headers: [("X-Request-ID", tooLong)])
            #expect(replaced.header("X-Request-ID") != tooLong)
            #expect(replaced.header("X-Request-ID")?.isEmpty == false)
            let first = try await fetch(port: port, "GET", "/ping")
            let second = try await fetch(port: port, "GET", "/ping")
            #expect(first.header("X-Request-ID") != second.header("X-Request-ID"))
            // Generated ids: the loop's random prefix and index, then the request number in hex.
            let generated = try #require(first.header("X-Request-ID"))
            let pattern = /^([0-9a-f]{6}-[0-9]+-)([0-9a-f]+)$/
            let firstMatch = try #require(generated.wholeMatch(of: pattern))
            let secondMatch = try #require(second.header("X-Request-ID")?.wholeMatch(of: pattern))
            #expect(firstMatch.1 == secondMatch.1)
            #expect(UInt64(secondMatch.2, radix: 16) == UInt64(firstMatch.2, radix: 16).map { $0 + 1 })
        }
    }

    @Test("unknown route 404, wrong method 405 with Allow, HEAD on GET routes")
    func routingErrors() async throws {
        try await withServer(TestRoutes.all) { _, port in
            let missing = try await fetch(port: port, "GET", "/missing")
            #expect(missing.status == 404)
            #expect(missing.errorCode == "not_found")

            for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
                let wrong = try await fetch(port: port, method, "/ping")
                #expect(wrong.status == 405, "\(method)")
                #expect(wrong.header("Allow") == "GET, HEAD")
                #expect(wrong.errorCode == "method_not_allowed")
            }
            let wrongPost = try await fetch(port: port, "GET", "/integration/webhook")
            #expect(wrongPost.status == 405)
            #expect(wrongPost.header("Allow") == "POST")

            let head = try await onThread {
                try TestHTTPConnection(port: port).request("HEAD", "/ping")
            }
            #expect(head.status == 200)
            #expect(head.body.isEmpty)

            let badEscape = try await fetch(port: port, "GET", "/jobs/%zz")
            #expect(badEscape.status == 400)
            #expect(badEscape.errorCode == "bad_request")
        }
    }

    @Test("handler errors: HTTPError keeps its status; anything else is a 500 that reveals nothing")
    func handlerErrors() async throws {
        try await withServer(TestRoutes.all) { _, port in
            let refused = try await fetch(port: port, "GET", "/refuse")
            #expect(refused.status == 409)
            #expect(refused.errorCode == "conflict")
            let crashed = try await fetch(port: port, "GET", "/crash")
            #expect(crashed.status == 500)
            #expect(crashed.errorCode == "internal_error")
            #expect(!crashed.text.contains("s3cr3t"))
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
        }
    }

    @Test("a request completed from another thread is answered")
    func completedFromAnotherThread() async throws {
        try await withServer(TestRoutes.all) { _, port in
            let response = try await fetch(port: port, "GET", "/other-thread")
            #expect(response.status == 200)
            #expect((response.json?["completedOn"] as? String)?.isEmpty == false)
        }
    }

    @Test("200 concurrent keep-alive connections are all answered")
    func concurrentKeepAlive() async throws {
        try await withServer(TestRoutes.all) { _, port in
            let requestsPerConnection = 5
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for index in 0..<200 {
                    group.addTask {
                        try await onThread {
                            let connection = try TestHTTPConnection(port: port)
                            return try (0..<requestsPerConnection).map { round in
                                let path = (index + round) % 2 == 0 ? "/ping" : "/jobs/\(index)-\(round)"
                                return try connection.request("GET", path).status
                            }
                        }
                    }
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(statuses.count == 200 * requestsPerConnection)
            #expect(statuses.allSatisfy { $0 == 200 })
        }
    }

    @Test("two event loops share the port")
    func severalLoops() async throws {
        try await withServer(TestRoutes.all, configure: { $0.eventLoops = 2 }) { _, port in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<40 {
                    group.addTask { try await fetch(port: port, "GET", index % 2 == 0 ? "/ping" : "/jobs/\(index)").status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 40))
        }
    }

    @Test("body limits: the route's own limit answers 413 JSON; larger routes accept more")
    func bodyLimits() async throws {
        try await withServer(TestRoutes.all, configure: { $0.maxBodySize = 1024 }) { _, port in
            let small = try await fetch(port: port, "POST", "/echo", body: Array(repeating: 65, count: 1024))
            #expect(small.status == 200)
            #expect(small.body.count == 1024)

            let tooLarge = try await fetch(port: port, "POST", "/echo", body: Array(repeating: 65, count: 1025))
            #expect(tooLarge.status == 413)
            #expect(tooLarge.errorCode == "payload_too_large")

            let large = try await fetch(port: port, "POST", "/large", body: Array(repeating: 66, count: 3 << 20))
            #expect(large.status == 200)
            #expect(large.json?["bytes"] as? Int == 3 << 20)

            // Over every route's limit, evhttp refuses before reading the body.
            let huge = try await onThread {
                let connection = try TestHTTPConnection(port: port)
                try connection.send("POST /large HTTP/1.1\r\nHost: x\r\nContent-Length: \(64 << 20)\r\n\r\n")
                return try connection.readResponse()
            }
            #expect(huge.status == 413)
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
        }
    }

    @Test("malformed requests get 400 and the server keeps serving", arguments: [
        "GARBAGE\r\n\r\n",
        "GET /ping HTTP/1.1 extra\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /ping HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n",
    ])
    func malformed(raw: String) async throws {
        try await withServer(TestRoutes.all) { _, port in
            let response = try await onThread {
                let connection = try TestHTTPConnection(port: port)
                try connection.send(raw)
                return try connection.readResponse()
            }
            #expect(response.status == 400)
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
        }
    }

    @Test("oversized headers get 431 and the server keeps serving")
    func oversizedHeaders() async throws {
        try await withServer(TestRoutes.all, configure: { $0.maxHeadersSize = 4096 }) { _, port in
            let response = try await fetch(port: port, "GET", "/ping", headers: [("X-Padding", String(repeating: "p", count: 8192))])
            #expect(response.status == 431)
            #expect(response.errorCode == "headers_too_large")
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
        }
    }

    @Test("a client that leaves before its reply does not disturb the server or its shutdown")
    func clientGone() async throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.shutdownGracePeriod = .seconds(5)
        try await withServer(TestRoutes.all, configure: { $0.shutdownGracePeriod = .seconds(5) }) { _, port in
            try await onThread {
                for _ in 0..<10 {
                    let connection = try TestHTTPConnection(port: port)
                    try connection.send("GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n")
                }  // each connection is closed here, before its reply
            }
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
        }
    }

    @Test("shutdown with 50 slow requests in flight answers all 50, then refuses connections")
    func gracefulShutdown() async throws {
        // The handlers count themselves in, so shutdown starts only once all 50 are in flight (a
        // connection still in the kernel's accept queue at shutdown is not in flight, and is reset).
        let slow = CountedRoute(milliseconds: 500)
        try await withServer(TestRoutes.all + [slow.route]) { server, port in
            let answers = Task {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<50 {
                        group.addTask { try await fetch(port: port, "GET", "/counted-slow").status }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
            try await slow.waitUntilEntered(50)
            await server.shutdown()
            let statuses = try await answers.value
            #expect(statuses == Array(repeating: 200, count: 50))
            #expect(throws: (any Error).self) { try TestHTTPConnection(port: port) }
        }
    }

    @Test("a handler still running at the end of the grace period is answered 503")
    func shutdownDeadline() async throws {
        let hang = CountedRoute(milliseconds: 600_000)
        try await withServer(TestRoutes.all + [hang.route], configure: { $0.shutdownGracePeriod = .milliseconds(300) }) { server, port in
            let hanging = Task { try await fetch(port: port, "GET", "/counted-slow") }
            try await hang.waitUntilEntered(1)
            let started = ContinuousClock.now
            await server.shutdown()
            // Far below the handler's 600 s: the grace period ended it (with room for a loaded machine).
            #expect(ContinuousClock.now - started < .seconds(15))
            let response = try await hanging.value
            #expect(response.status == 503)
            #expect(response.errorCode == "shutting_down")
        }
    }

    @Test("keep-alive connections get Connection: close while draining")
    func drainingClosesConnections() async throws {
        let slowRoute = CountedRoute(milliseconds: 800)
        try await withServer(TestRoutes.all + [slowRoute.route], configure: { $0.shutdownGracePeriod = .seconds(10) }) { server, port in
            let connection = try TestHTTPConnection(port: port)
            #expect(try connection.request("GET", "/ping").status == 200)
            let slow = Task { try await fetch(port: port, "GET", "/counted-slow") }
            try await slowRoute.waitUntilEntered(1)
            let shutdown = Task { await server.shutdown() }
            try await Task.sleep(for: .milliseconds(100))  // draining has begun (the slow request holds it open)
            let during = try await onThread { try connection.request("GET", "/ping") }
            #expect(during.status == 200)
            #expect(during.header("Connection")?.lowercased() == "close")
            #expect(try await onThread { connection.waitForClose() })
            #expect(try await slow.value.status == 200)
            await shutdown.value
        }
    }

    @Test("invalid configuration is refused with the setting's name")
    func invalidConfiguration() async throws {
        for (configuration, word) in [
            (HTTPServerConfiguration(host: "127.0.0.1", port: 70000), "port"),
            (HTTPServerConfiguration(host: "127.0.0.1", port: 0, eventLoops: 0), "event loops"),
            (HTTPServerConfiguration(host: "127.0.0.1", port: 0, maxBodySize: 0), "body"),
            (HTTPServerConfiguration(host: "no-such-host.invalid", port: 0), "no-such-host.invalid"),
        ] {
            let server = HTTPServer(configuration: configuration, router: Router(TestRoutes.all), logger: .init(label: "t"))
            do {
                try await server.start()
                Issue.record("\(configuration) should not start")
                await server.shutdown()
            } catch {
                #expect("\(error)".contains(word))
            }
        }
    }

    @Test("a port in use is reported, not crashed on")
    func portInUse() async throws {
        try await withServer(TestRoutes.all) { _, port in
            let second = HTTPServer(configuration: .init(host: "127.0.0.1", port: port), router: Router(TestRoutes.all),
                                    logger: .init(label: "t"))
            await #expect(throws: HTTPServerError.self) { try await second.start() }
        }
    }
}

/// A slow route that counts the requests that reached its handler, so a test can wait until they
/// are really in flight instead of guessing with a sleep.
struct CountedRoute {
    let entered = Locked(0)
    let route: Route

    init(milliseconds: Int) {
        let entered = self.entered
        route = Route(.get, "/counted-slow", handler: .asynchronous { _ in
            entered.withLock { $0 += 1 }
            try? await Task.sleep(for: .milliseconds(milliseconds))
            return .json(.ok, body: TestRoutes.ok)
        })
    }

    func waitUntilEntered(_ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while entered.current < count {
            guard ContinuousClock.now < deadline else { throw TestHTTPError("only \(entered.current) of \(count) requests reached the handler") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

import EventHTTP
import Essentials
import Foundation
import TestSupport
import Testing

/// What a careless or hostile client sends, byte for byte, and what the server must do with it:
/// refuse with a JSON error and close, never let a second request hide in the first, never hold
/// memory or a connection on a client's say-so.
@Suite("Hostile clients: smuggling, slow clients, limits")
struct HostileClientTests {
    /// Counts the requests that reach it: a smuggled request must never get here.
    final class Hits: Sendable {
        private let count = Locked(0)
        var value: Int { count.current }
        var route: Route {
            Route(.get, "/smuggled", handler: .immediate { [count] _ in
                count.withLock { $0 += 1 }
                return .json(.ok, body: Array("{}".utf8))
            })
        }
    }

    static let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

    @Test("request smuggling is refused with 400 and the connection closed", arguments: [
        // Two different Content-Lengths: evhttp took the first and ran the body as a request.
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)",
        // Whitespace before the colon: evhttp saw no Content-Length at all.
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length : \(smuggled.utf8.count)\r\n\r\n\(smuggled)",
        // A sign in Content-Length.
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\nab\(smuggled)",
        // A folded header line (obs-fold).
        "POST /echo HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nab\(smuggled)",
        // HTTP/1.1 without Host.
        "GET /ping HTTP/1.1\r\n\r\n\(smuggled)",
        // Content-Length and Transfer-Encoding together.
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\(smuggled)",
        // Chunk data longer than its size: evhttp hung on it.
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n\(smuggled)",
        // A bare CR inside a header line.
        "GET /ping HTTP/1.1\r\nHost: x\r\nX-A: 1\rX-B: 2\r\n\r\n\(smuggled)",
        // A transfer coding other than chunked.
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n\(smuggled)",
    ])
    func smuggling(raw: String) async throws {
        let hits = Hits()
        try await withServer(TestRoutes.all + [hits.route]) { _, port in
            let (response, closed) = try await onThread {
                let connection = try TestHTTPConnection(port: port, timeout: 5)
                try connection.send(raw)
                let response = try connection.readResponse()
                return (response, connection.waitForClose())
            }
            #expect([400, 501].contains(response.status))
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.header("Connection")?.lowercased() == "close")
            #expect(closed)
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
            #expect(hits.value == 0, "the request hidden in the first one ran")
        }
    }

    @Test("a well-formed chunked body is read whole; pipelined requests after it are served in order")
    func chunkedAndPipelined() async throws {
        try await withServer(TestRoutes.all) { _, port in
            let (first, second) = try await onThread {
                let connection = try TestHTTPConnection(port: port)
                try connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n"
                    + "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                return (try connection.readResponse(), try connection.readResponse())
            }
            #expect(first.status == 200)
            #expect(first.text == "abcdefg")
            #expect(second.status == 200)
            #expect(second.text == #"{"ok":true}"#)
        }
    }

    @Test("requests pipelined in one write, heads split across writes and bodies after their heads are served in order")
    func pipelinedAndSplit() async throws {
        try await withServer(TestRoutes.all) { _, port in
            let texts = try await onThread { () -> [String] in
                let connection = try TestHTTPConnection(port: port)
                // Three requests in one write, the first answered by a task: the next two wait,
                // read but unparsed, while more bytes arrive behind them.
                try connection.send("GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
                    + "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                Thread.sleep(forTimeInterval: 0.05)
                // A head in three writes, then its body in two.
                for piece in ["POST /ec", "ho HTTP/1.1\r\nHost: x\r\nContent-", "Length: 6\r\n\r\n", "sec", "ond"] {
                    try connection.send(piece)
                    Thread.sleep(forTimeInterval: 0.02)
                }
                return try (0..<4).map { _ in try connection.readResponse().text }
            }
            #expect(texts == [#"{"ok":true}"#, "first", #"{"ok":true}"#, "second"])
        }
    }

    @Test("connections that close without a request give their place back")
    func closedWithoutRequest() async throws {
        try await withServer(TestRoutes.all, configure: { $0.maxConnections = 8 }) { _, port in
            for _ in 0..<5 {
                let connections = try (0..<8).map { _ in try TestHTTPConnection(port: port, timeout: 5) }
                try await Task.sleep(for: .milliseconds(50))
                _ = connections
            }
            try await Task.sleep(for: .milliseconds(200))
            // Had the 40 closed connections kept their places, these would be evicted to make room.
            let idle = try (0..<7).map { _ in try TestHTTPConnection(port: port, timeout: 5) }
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
            for connection in idle {
                try connection.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try connection.readResponse().status == 200)
            }
        }
    }

    @Test("a refusal reaches a client that is still sending the refused body")
    func refusedWhileSending() async throws {
        try await withServer(TestRoutes.all, configure: { $0.maxBodySize = 64 << 10 }) { _, port in
            let (response, failedSend) = try await onThread { () -> (TestHTTPResponse, String?) in
                let connection = try TestHTTPConnection(port: port, timeout: 5)
                // The head and the first 64 KiB: the server answers 413 and closes its side while the
                // client goes on sending. A socket closed with unread input sends a reset, which can
                // destroy a reply still on its way (on a real network); the socket must linger,
                // reading, so the client's next sends still succeed.
                let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 << 10)
                try connection.send(Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(8 << 20)\r\n\r\n".utf8) + chunk)
                let response = try connection.readResponse()
                for _ in 0..<16 {
                    Thread.sleep(forTimeInterval: 0.01)
                    do { try connection.send(chunk) } catch { return (response, "\(error)") }
                }
                return (response, nil)
            }
            #expect(response.status == 413)
            #expect(response.header("Connection")?.lowercased() == "close")
            #expect(failedSend == nil, "the connection was reset while the client was still sending")
        }
    }

    @Test("//authority/route is not served as /route")
    func doubleSlash() async throws {
        try await withServer(TestRoutes.all) { _, port in
            for target in ["//x/ping", "//ping", "http://x/ping", "*"] {
                let response = try await onThread {
                    let connection = try TestHTTPConnection(port: port)
                    try connection.send("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
                    return try connection.readResponse()
                }
                #expect(response.status == 400, "\(target)")
                #expect(response.errorCode == "bad_request")
            }
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
        }
    }

    @Test("HEAD: GET's headers with its Content-Length, no body, and the connection stays in step")
    func head() async throws {
        try await withServer(TestRoutes.all) { _, port in
            let (get, head, after) = try await onThread {
                let connection = try TestHTTPConnection(port: port)
                let get = try connection.request("GET", "/ping")
                // Read HEAD's answer as if it had a body by its Content-Length: the next response must
                // not be swallowed (it would be, were a body sent).
                try connection.send("HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /jobs/after HTTP/1.1\r\nHost: x\r\n\r\n")
                let head = try connection.readResponse(isHead: true)
                let after = try connection.readResponse()
                return (get, head, after)
            }
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == String(get.body.count))
            #expect(head.header("Content-Type") == get.header("Content-Type"))
            #expect(head.body.isEmpty)
            #expect(after.status == 200)
            #expect(after.json?["id"] as? String == "after")
        }
    }

    @Test("methods evhttp does not know get JSON: 405 with Allow on a known path, else 501")
    func unknownMethods() async throws {
        try await withServer(TestRoutes.all) { _, port in
            for (method, path, status) in [("QUERY", "/ping", 405), ("get", "/ping", 405), ("BREW", "/nowhere", 501)] {
                let response = try await onThread {
                    let connection = try TestHTTPConnection(port: port)
                    try connection.send("\(method) \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                    return try connection.readResponse()
                }
                #expect(response.status == status, "\(method) \(path)")
                #expect(response.header("Content-Type") == "application/json")
                if status == 405 { #expect(response.header("Allow") == "GET, HEAD") }
            }
        }
    }

    @Test("a body over its route's limit is refused from its Content-Length, before a byte of it is sent")
    func earlyLimits() async throws {
        try await withServer(TestRoutes.all, configure: { $0.maxBodySize = 64 << 10 }) { _, port in
            // The head only: the answer must come without the body.
            for (method, path, length, status) in [
                ("POST", "/echo", 1 << 20, 413),         // over the route's limit (the server's largest is 4 MiB)
                ("GET", "/ping", 10, 413),               // a route that takes no body
                ("POST", "/nowhere", 1000, 404),         // no route: the body is never read
            ] {
                let response = try await onThread {
                    let connection = try TestHTTPConnection(port: port, timeout: 5)
                    try connection.send("\(method) \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: \(length)\r\n\r\n")
                    return try connection.readResponse()
                }
                #expect(response.status == status, "\(method) \(path)")
                #expect(response.header("Content-Type") == "application/json")
            }
            // A chunked body is counted as it arrives.
            let chunked = try await onThread {
                let connection = try TestHTTPConnection(port: port, timeout: 5)
                let chunk = String(repeating: "x", count: 40 << 10)
                try connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "a000\r\n\(chunk)\r\na000\r\n\(chunk)\r\n")
                return try connection.readResponse()
            }
            #expect(chunked.status == 413)
            let empty = try await fetch(port: port, "GET", "/ping", headers: [("Content-Length", "0")])
            #expect(empty.status == 200)
        }
    }

    @Test("the bytes held for unanswered bodies are bounded: over the budget, 503 with Retry-After")
    func bodyBudget() async throws {
        // Without the 4 MiB route: the budget must hold at least the largest body a route takes.
        try await withServer(TestRoutes.all.filter { $0.pattern != "/large" }, configure: {
            $0.maxBodySize = 64 << 10
            $0.maxBufferedBodyBytes = 128 << 10
        }) { _, port in
            // Two slow bodies of 60 KiB hold 120 KiB of the 128 KiB budget.
            let holders = try (0..<2).map { _ in try TestHTTPConnection(port: port, timeout: 5) }
            for holder in holders {
                try holder.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(60 << 10)\r\n\r\n" + String(repeating: "a", count: 1000))
            }
            try await Task.sleep(for: .milliseconds(200))
            let refused = try await onThread {
                let connection = try TestHTTPConnection(port: port, timeout: 5)
                try connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(20 << 10)\r\n\r\n")
                return try connection.readResponse()
            }
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            // A request without a body is not held back.
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
            // The first holder finishes its body: its share comes back once it is answered.
            let finished = try await onThread { () -> TestHTTPResponse in
                try holders[0].send(String(repeating: "a", count: (60 << 10) - 1000))
                return try holders[0].readResponse()
            }
            #expect(finished.status == 200)
            #expect(finished.body.count == 60 << 10)
            let accepted = try await fetch(port: port, "POST", "/echo", body: Array(repeating: 0x62, count: 20 << 10))
            #expect(accepted.status == 200)
        }
    }

    @Test("a head or body trickling in a byte at a time is cut off at its deadline")
    func slowClients() async throws {
        try await withServer(TestRoutes.all, configure: {
            $0.headerTimeout = .seconds(1)
            $0.bodyTimeout = .seconds(1)
            $0.connectionTimeoutSeconds = 30
        }) { _, port in
            for prefix in ["GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"] {
                let (sent, closed) = try await onThread { () -> (Int, Bool) in
                    let connection = try TestHTTPConnection(port: port, timeout: 1)
                    try connection.send(prefix)
                    // One byte every 100 ms: each restarts evhttp's own timeout, never the deadline.
                    var sent = 0
                    for _ in 0..<100 {
                        Thread.sleep(forTimeInterval: 0.1)
                        guard (try? connection.send("a")) != nil else { break }
                        sent += 1
                        if connection.isClosedByPeer() { return (sent, true) }
                    }
                    return (sent, connection.waitForClose())
                }
                #expect(closed, "\(prefix.prefix(20)): still open after \(sent) bytes")
                #expect(sent < 100)
            }
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
        }
    }

    @Test("at the connection limit the idlest connection makes room; when all are busy, 503 and close")
    func connectionLimit() async throws {
        try await withServer(TestRoutes.all, configure: {
            $0.maxConnections = 20
            $0.shutdownGracePeriod = .milliseconds(200)
        }) { _, port in
            // 40 idle connections: the newest 20 survive, the server keeps serving.
            let idle = try (0..<40).map { _ in try TestHTTPConnection(port: port, timeout: 5) }
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await fetch(port: port, "GET", "/ping").status == 200)
            #expect(idle[0].waitForClose(), "the idlest connection was not closed to make room")
            // 20 connections each waiting for a handler: nothing can be evicted.
            let busy = try (0..<20).map { _ in try TestHTTPConnection(port: port, timeout: 5) }
            for connection in busy { try connection.send("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n") }
            try await Task.sleep(for: .milliseconds(300))
            let refused = try await fetch(port: port, "GET", "/ping")
            #expect(refused.status == 503)
            #expect(refused.header("Connection")?.lowercased() == "close")
            _ = idle
        }
    }

    @Test("a query that does not percent-decode is 400, not a filter silently dropped")
    func badQuery() async throws {
        try await withServer(TestRoutes.all) { _, port in
            for query in ["status=%ZZ", "status=%FF", "%ZZ=1"] {
                let response = try await fetch(port: port, "GET", "/query?\(query)")
                #expect(response.status == 400, "\(query)")
                #expect(response.errorCode == "bad_request")
            }
            #expect(try await fetch(port: port, "GET", "/query?status=a%20b").status == 200)
        }
    }
}

import FakePort
import Foundation
import Logging
import OceanKit
import Testing

/// The HTTP client integrations use for their own APIs, against the Port-like server's open endpoint.
@Suite("Retrying HTTP client")
struct RetryingHTTPClientTests {
    func client(_ policy: RetryPolicy = RetryPolicy(initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(20)),
                perSecond: Double? = nil, timeout: Duration = .seconds(5)) -> RetryingHTTPClient {
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        return RetryingHTTPClient(policy: policy, timeout: timeout, requestsPerSecond: perSecond, logger: logger)
    }

    func tokenRequest(_ fake: FakePort) -> OutgoingRequest {
        OutgoingRequest(method: "POST", url: fake.baseURL + "/v1/auth/access_token", headers: [("Content-Type", "application/json")],
                        body: Array(#"{"clientId":"client-id","clientSecret":"client-secret-do-not-log"}"#.utf8))
    }

    @Test("4xx answers are returned, not retried; retries stop at the attempt limit with the last status")
    func noRetryOn4xx() async throws {
        let fake = FakePort()
        try await fake.start()
        let http = client(RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(10)))
        let notFound = try await http.send(OutgoingRequest(method: "GET", url: fake.baseURL + "/nope"))
        #expect(notFound.status == 404)
        await fake.inject(.init(pathPrefix: "/v1/integration", status: 503, times: 10))
        do {
            _ = try await http.send(OutgoingRequest(method: "GET", url: fake.baseURL + "/v1/integration/x?token=SECRET"))
            Issue.record("no error")
        } catch let error as HTTPCallError {
            #expect(error.status == 503)
            #expect(error.message.contains("gave up after 3 attempts"))
            #expect(!error.message.contains("SECRET"), "queries can carry credentials")
        }
        await http.shutdown()
        await fake.stop()
    }

    @Test("429 halves the requests allowed in flight; successes grow them back by one, up to the maximum")
    func adaptiveConcurrency() async throws {
        let fake = FakePort()
        try await fake.start()
        let http = client()
        #expect(http.concurrencyLimit == 8)
        let request = OutgoingRequest(method: "GET", url: fake.baseURL + "/v1/integration/x")
        await fake.inject(.init(pathPrefix: "/v1/integration", status: 429, retryAfterSeconds: 0, times: 3))
        let answered = try await http.send(request)
        #expect(answered.status == 401)   // an answer that is not overload: a success for the limit
        #expect(http.concurrencyLimit == 2)   // 8 -> 4 -> 2 -> 1, then one success at 1 -> 2
        for _ in 0..<(2 + 3) { _ = try await http.send(request) }
        #expect(http.concurrencyLimit == 4)
        for _ in 0..<(4 + 5 + 6 + 7) { _ = try await http.send(request) }
        #expect(http.concurrencyLimit == 8)
        await http.shutdown()
        await fake.stop()
    }

    @Test("connection failures are retried and then reported")
    func transport() async throws {
        let http = client(RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(5), maxBackoff: .milliseconds(10)), timeout: .milliseconds(500))
        do {
            _ = try await http.send(OutgoingRequest(method: "GET", url: "http://127.0.0.1:1/unreachable"))
            Issue.record("no error")
        } catch let error as HTTPCallError {
            #expect(error.code == .transport)
            #expect(error.message.contains("gave up after 2 attempts"))
        }
        await http.shutdown()
    }

    @Test("the rate limiter paces requests")
    func rateLimit() async throws {
        let fake = FakePort()
        try await fake.start()
        let http = client(perSecond: 20)
        let started = ContinuousClock.now
        for _ in 0..<6 { _ = try await http.send(tokenRequest(fake)) }
        // One permit at once, then 20 a second: the sixth request cannot start before 250 ms.
        #expect(ContinuousClock.now - started >= .milliseconds(240))
        await http.shutdown()
        await fake.stop()
    }

    @Test("paginate follows the cursor until it ends")
    func paginate() async throws {
        let http = client()
        var pages: [[Int]] = []
        for try await page in http.paginate({ cursor -> (page: [Int], next: String?) in
            let start = Int(cursor ?? "0")!
            return (Array(start..<start + 3), start + 3 < 9 ? String(start + 3) : nil)
        }) {
            pages.append(page)
        }
        #expect(pages == [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
        await http.shutdown()
    }
}

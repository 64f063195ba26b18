import AsyncHTTPClient
import Essentials
import Foundation
public import Logging
import NIOCore
import NIOHTTP1

/// The HTTP client for Port and for integrations' own third-party APIs: retries transient failures
/// with jittered exponential backoff, honours `Retry-After`, bounds the requests in flight (the bound
/// holds across retries: a request waiting to retry holds no slot), times out each attempt, and
/// never logs credentials.
public final class RetryingHTTPClient: Sendable {
    public let policy: RetryPolicy
    public let timeout: Duration
    public let maxResponseBytes: Int
    private let client: HTTPClient
    private let slots: AsyncSlots
    private let rateLimiter: RateLimiter?
    /// Made at first use when none is given: a client made before the service sets up logging
    /// (in `main`, before `OceanService.run`) still logs in the service's format.
    private let givenLogger: Logger?
    private var logger: Logger { givenLogger ?? Logger(label: "ocean.http") }
    private let isShutDown = Locked(false)

    /// `requestsPerSecond` (with bursts of up to `burst`) paces every attempt, retries included:
    /// for third-party APIs with a published rate limit.
    /// Requests allowed in flight now: `maxConcurrentRequests`, halved after each 429 and grown back
    /// by one after as many successes in a row (never below one).
    public var concurrencyLimit: Int { slots.limit }

    public init(
        policy: RetryPolicy = .init(), timeout: Duration = .seconds(30), maxConcurrentRequests: Int = 8,
        requestsPerSecond: Double? = nil, burst: Int = 1, maxResponseBytes: Int = 64 << 20, logger: Logger? = nil
    ) {
        self.policy = policy
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        givenLogger = logger
        slots = AsyncSlots(max(1, maxConcurrentRequests))
        rateLimiter = requestsPerSecond.map { RateLimiter(perSecond: $0, burst: burst) }
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, maxConcurrentRequests))
        configuration.decompression = .enabled(limit: .ratio(50))
        // Without this a refused connection is retried inside the client until its own 10 s limit.
        let connectMilliseconds = Int64(min(timeout, .seconds(10)) / .milliseconds(1))
        configuration.timeout = .init(connect: .milliseconds(connectMilliseconds), read: .milliseconds(Int64(timeout / .milliseconds(1))))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections; the client cannot be used afterwards. Safe to call more than once.
    public func shutdown() async {
        guard isShutDown.withLock({ done in defer { done = true }; return !done }) else { return }
        try? await client.shutdown()
    }

    deinit {
        // Forgotten (an early return, a thrown error): close anyway. The connection pool keeps the
        // underlying client alive until its shutdown has finished.
        if isShutDown.withLock({ done in defer { done = true }; return !done }) {
            client.shutdown { _ in }
        }
    }

    /// Sends `request`, retrying what is worth retrying. Returns the first response that is not
    /// retried (a 4xx is returned, not thrown: the caller decides); throws when the retries or the
    /// budget run out, or on a transport failure that outlasts them.
    public func send(_ request: OutgoingRequest) async throws -> IncomingResponse {
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            var retryAfter: Duration?
            var failure: HTTPCallError
            do {
                if let rateLimiter { try await rateLimiter.wait() }
                let response = try await slots.withSlot { try await self.attempt(request) }
                // 429: the other side is overloaded; fewer requests at once until it stops.
                if response.status == 429 { slots.throttled() } else if response.status < 500 { slots.succeeded() }
                guard policy.retryableStatuses.contains(response.status) else { return response }
                retryAfter = Self.retryAfter(response.header("Retry-After"))
                failure = HTTPCallError(code: .status, status: response.status,
                                        message: "\(request.method) \(Self.path(of: request.url)) answered \(response.status)")
            } catch let error as HTTPCallError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failure = HTTPCallError(code: .transport, status: nil,
                                        message: "\(request.method) \(Self.path(of: request.url)) failed: \(Self.describe(error))")
            }
            if let retryAfter, retryAfter > policy.maxRetryAfter {
                throw HTTPCallError(code: .status, status: failure.status,
                                    message: failure.message + " with Retry-After \(retryAfter), beyond the longest wait allowed")
            }
            let wait = policy.delay(afterAttempt: attempt, retryAfter: retryAfter)
            guard attempt < policy.maxAttempts, ContinuousClock.now - started + wait < policy.budget else {
                throw HTTPCallError(code: failure.code, status: failure.status,
                                    message: failure.message + " (gave up after \(attempt) attempt\(attempt == 1 ? "" : "s"))")
            }
            logger.debug("retrying", metadata: ["http.attempt": "\(attempt)", "http.wait": "\(wait)", "http.reason": "\(failure.message)"])
            try await Task.sleep(for: wait)
        }
    }

    /// Sends `request` (retrying as `send` does) and decodes the JSON body of a 2xx answer; any other
    /// answer, or a body that is not JSON, throws an `HTTPCallError` naming the method and path.
    public func json(_ request: OutgoingRequest) async throws -> JSON {
        let response = try await send(request)
        guard response.isSuccess else {
            throw HTTPCallError(code: .status, status: response.status,
                                message: "\(request.method) \(Self.path(of: request.url)) answered \(response.status)")
        }
        do {
            return try JSONDecoder().decode(JSON.self, from: Data(response.body))
        } catch {
            throw HTTPCallError(code: .status, status: response.status,
                                message: "\(request.method) \(Self.path(of: request.url)) answered with a body that is not JSON")
        }
    }

    /// Follows a paginated endpoint: `fetch` gets the cursor (nil first) and returns a page and the
    /// next cursor; the sequence ends when the cursor is nil. A page is fetched only when the
    /// previous one has been taken, so nothing is buffered or dropped.
    public func paginate<Page: Sendable>(
        _ fetch: @escaping @Sendable (String?) async throws -> (page: Page, next: String?)
    ) -> Paginated<Page> {
        Paginated(fetch: fetch)
    }

    private func attempt(_ request: OutgoingRequest) async throws -> IncomingResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for header in request.headers { outgoing.headers.add(name: header.name, value: header.value) }
        if let body = request.body {
            outgoing.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(outgoing, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: maxResponseBytes)
        } catch is NIOTooManyBytesError {
            throw HTTPCallError(code: .tooLarge, status: Int(response.status.code),
                                message: "\(request.method) \(Self.path(of: request.url)) answered more than \(maxResponseBytes) bytes")
        }
        return IncomingResponse(status: Int(response.status.code),
                                headers: response.headers.map { (name: $0.name, value: $0.value) },
                                body: Array(body.readableBytesView))
    }

    /// `Retry-After` in seconds (an HTTP date is not used: the backoff applies).
    static func retryAfter(_ value: String?) -> Duration? {
        guard let value, let seconds = Double(value.trimmingWhitespace()), seconds >= 0, seconds.isFinite else { return nil }
        return .milliseconds(Int(seconds * 1000))
    }

    /// The path of a URL, without the query (which may carry tokens).
    static func path(of url: String) -> String {
        guard let components = URLComponents(string: url) else { return "(a malformed URL)" }
        return components.path.isEmpty ? "/" : components.path
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as HTTPClientError: "\(error)"
        default: String(describing: type(of: error)) + ": \(error)"
        }
    }
}

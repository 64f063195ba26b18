import AsyncHTTPClient
import Essentials
import Foundation
public import Logging
public import Ocean
import NIOCore
import NIOHTTP1

/// How transient failures are retried: jittered exponential backoff, `Retry-After` honoured, and a
/// total time budget after which the call gives up.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// Statuses worth another try (Ocean retries 408, 429, 502-504; 500 too here).
    public var retryableStatuses: Set<Int>
    /// The longest `Retry-After` obeyed; a longer one gives up at once.
    public var maxRetryAfter: Duration
    /// No retry starts after this much time since the first attempt.
    public var budget: Duration

    public init(
        maxAttempts: Int = 6, initialBackoff: Duration = .milliseconds(200), maxBackoff: Duration = .seconds(10),
        retryableStatuses: Set<Int> = [408, 429, 500, 502, 503, 504], maxRetryAfter: Duration = .seconds(120),
        budget: Duration = .seconds(300)
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.retryableStatuses = retryableStatuses
        self.maxRetryAfter = maxRetryAfter
        self.budget = budget
    }

    /// The wait before attempt `attempt + 1` (full jitter), or what the server asked for.
    func delay(afterAttempt attempt: Int, retryAfter: Duration?) -> Duration {
        if let retryAfter { return retryAfter }
        let ceiling = min(maxBackoff, initialBackoff * Int(1 << min(attempt, 20)))
        let milliseconds = Int(ceiling / .milliseconds(1))
        return .milliseconds(Int.random(in: milliseconds / 2...max(milliseconds / 2, milliseconds)))
    }
}

/// An HTTP request as the retrying client sends it.
public struct OutgoingRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// A response, read in full.
public struct IncomingResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// Why a call failed for good. Its message names the method, the URL path and what happened —
/// never headers or bodies, which may hold credentials.
public struct HTTPCallError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The server answered with a status that is not retried, or still failing after the retries.
        case status
        /// No answer: connection refused or reset, DNS, TLS, timeout.
        case transport
        /// The response body was larger than accepted.
        case tooLarge = "too_large"
    }

    public let code: Code
    /// The last status, when there was an answer.
    public let status: Int?
    public let message: String

    public var description: String { message }
}

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
    private let logger: Logger
    private let isShutDown = Locked(false)

    /// `requestsPerSecond` (with bursts of up to `burst`) paces every attempt, retries included:
    /// for third-party APIs with a published rate limit.
    public init(
        policy: RetryPolicy = .init(), timeout: Duration = .seconds(30), maxConcurrentRequests: Int = 8,
        requestsPerSecond: Double? = nil, burst: Int = 1, maxResponseBytes: Int = 64 << 20, logger: Logger
    ) {
        self.policy = policy
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        self.logger = logger
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

/// A counting semaphore for async code: at most `limit` bodies run at once.
final class AsyncSlots: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Locked<State>

    init(_ limit: Int) {
        state = Locked(State(available: limit))
    }

    func withSlot<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// A token bucket: at most `perSecond` permits a second on average, `burst` at once.
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    public let perSecond: Double
    public let burst: Int
    private let bucket: Locked<Bucket>

    public init(perSecond: Double, burst: Int = 1) {
        self.perSecond = max(0.001, perSecond)
        self.burst = max(1, burst)
        bucket = Locked(Bucket(tokens: Double(max(1, burst)), updated: .now))
    }

    /// Waits until a permit is available and takes it.
    public func wait() async throws {
        while true {
            let delay = bucket.withLock { bucket -> Duration? in
                let now = ContinuousClock.now
                let elapsed = Double((now - bucket.updated) / .microseconds(1)) / 1_000_000
                bucket.tokens = min(Double(burst), bucket.tokens + elapsed * perSecond)
                bucket.updated = now
                if bucket.tokens >= 1 {
                    bucket.tokens -= 1
                    return nil
                }
                return .microseconds(Int((1 - bucket.tokens) / perSecond * 1_000_000) + 1)
            }
            guard let delay else { return }
            try await Task.sleep(for: delay)
        }
    }
}

/// The pages of a paginated endpoint, fetched one at a time as they are taken.
public struct Paginated<Page: Sendable>: AsyncSequence, Sendable {
    let fetch: @Sendable (String?) async throws -> (page: Page, next: String?)

    public func makeAsyncIterator() -> Iterator { Iterator(fetch: fetch) }

    public struct Iterator: AsyncIteratorProtocol {
        let fetch: @Sendable (String?) async throws -> (page: Page, next: String?)
        var cursor: String?
        var finished = false

        public mutating func next() async throws -> Page? {
            guard !finished else { return nil }
            try Task.checkCancellation()
            let (page, next) = try await fetch(cursor)
            cursor = next
            finished = next == nil
            return page
        }
    }
}

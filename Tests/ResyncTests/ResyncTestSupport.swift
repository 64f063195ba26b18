import Essentials
import Foundation
import Logging
import OceanKit
import OceanEngine
import OceanCatalog

/// A catalog in a fresh temporary file.
func temporaryCatalog() throws -> CatalogStore {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-test-\(UUID().uuidString)/catalog.sqlite").path
    return try CatalogStore(path: path)
}

/// A mapping with one resource per kind: identifier `.id`, blueprint = the kind.
func simpleMapping(kinds: [String]) throws -> PortAppConfig {
    let resources = kinds.map { kind in
        """
          - kind: \(kind)
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: .id
                  title: .name
                  blueprint: '"\(kind)"'
        """
    }.joined(separator: "\n")
    return try PortAppConfig.parse("resources:\n" + resources).config
}

/// `count` records `{"id": "<prefix>-<n>", "name": ...}` as one batch.
func records(_ prefix: String, _ range: Range<Int>) -> [JSON] {
    range.map { .object(["id": .string("\(prefix)-\($0)"), "name": .string("Name \($0)")]) }
}

/// A gate a handler waits at until the test opens it.
final class Gate: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream()
    }

    func wait() async {
        for await _ in stream { return }
    }

    func open() {
        continuation.finish()
    }
}

/// Counts handlers running at once and the most seen.
actor Concurrency {
    private(set) var current = 0
    private(set) var maximum = 0
    private(set) var started: [String] = []

    func enter(_ kind: String) {
        current += 1
        maximum = max(maximum, current)
        started.append(kind)
    }

    func leave() { current -= 1 }
}

func makeCoordinator(
    _ integration: OceanIntegration, mapping: PortAppConfig, catalog: CatalogStore,
    maxConcurrentResources: Int = 4, historyLimit: Int = 1000, recentChanges: RecentChanges? = nil,
    redactor: SecretRedactor = SecretRedactor(), digests: (any WriteDigests)? = nil, fullWriteEvery: Int? = 24
) -> ResyncCoordinator {
    var logger = Logger(label: "test.resync")
    logger.logLevel = .critical
    return ResyncCoordinator(
        integration: integration, integrationConfig: IntegrationConfig(), mappingSource: FixedMapping(mapping),
        destination: .reconciling(catalog), store: catalog, pool: testPool,
        settings: .init(integrationIdentifier: "test", maxConcurrentResources: maxConcurrentResources,
                        historyLimit: historyLimit, redactor: redactor, fullWriteEvery: fullWriteEvery),
        logger: logger, recentChanges: recentChanges, digests: digests)
}

/// The mapping threads the tests of this target share, as a service's jobs and deliveries do.
let testPool = MappingPool(workers: 2)

extension ResyncCoordinator {
    /// What the service group does: prepares, then runs it in the background until `shutdown()`.
    func start() async throws {
        try await prepare()
        Task { await self.run() }
    }
}

extension WebhookDispatcher {
    /// What the service group does: prepares, then runs it in the background until `stop()`.
    func start() async throws {
        try await prepare()
        Task { await self.run() }
    }
}

/// Waits until `condition` holds (checked every few milliseconds), at most 30 s.
func eventually(_ what: String, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while await !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(5))
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// A handler's pages: `pages` batches of `size` records, after waiting at `gate` (when given).
struct Pages: AsyncSequence, Sendable {
    typealias Element = [JSON]
    let prefix: String
    let pages: Int
    let size: Int
    var gate: Gate?
    var failAfter: Int?

    func makeAsyncIterator() -> Iterator { Iterator(pages: self) }

    struct Iterator: AsyncIteratorProtocol {
        let pages: Pages
        var page = 0

        mutating func next() async throws -> [JSON]? {
            if page == 0, let gate = pages.gate { await gate.wait() }
            if let failAfter = pages.failAfter, page == failAfter { throw HandlerFailure() }
            guard page < pages.pages else { return nil }
            defer { page += 1 }
            return records(pages.prefix, page * pages.size..<(page + 1) * pages.size)
        }
    }
}

struct HandlerFailure: Error, CustomStringConvertible {
    var description: String { "the third-party API answered 500" }
}

/// Pages of 10 "slow" records every 20 ms until the job is cancelled; then `then` opens.
func endlessPages(_ context: ResyncContext, then: Gate? = nil) -> AsyncThrowingStream<[JSON], any Error> {
    AsyncThrowingStream<[JSON], any Error> { continuation in
        let task = Task {
            var page = 0
            while !context.isCancelled {
                continuation.yield(records("slow", page * 10..<(page + 1) * 10))
                page += 1
                try? await Task.sleep(for: .milliseconds(20))
            }
            then?.open()
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
    }
}

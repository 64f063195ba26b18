public import OceanKit
public import Essentials
import FoundationEssentials
public import ServiceLifecycle
public import Logging

/// Accepts webhook deliveries (authenticated and validated before the answer), stores them durably,
/// and applies them through the kinds' mappings to the destination: in order per ordering key, in
/// parallel across keys, with retries and dead letters.
///
/// As a `Service`, deliveries are applied inside `run()`, each a child task; it sleeps until a
/// delivery arrives, one finishes or a retry comes due, and on graceful shutdown it stops taking
/// deliveries and returns once those being applied are done (the waiting ones stay stored).
public actor WebhookDispatcher: Service {
    public struct Settings: Sendable {
        /// Deliveries waiting (pending or failed) beyond which new ones get 503.
        public var maxQueued: Int
        /// Deliveries applied at once (each ordering key one at a time).
        public var concurrency: Int
        /// Done and dead deliveries kept.
        public var keepFinished: Int
        public var integrationIdentifier: String
        /// Where delivery counts, the queue depth and latencies go.
        public var metrics: EngineMetrics
        /// Secrets scrubbed from a delivery's error before it is stored.
        public var redactor: SecretRedactor

        public init(maxQueued: Int = 10_000, concurrency: Int = 4, keepFinished: Int = 10_000, integrationIdentifier: String,
                    metrics: EngineMetrics = .none, redactor: SecretRedactor = SecretRedactor()) {
            self.maxQueued = maxQueued
            self.concurrency = concurrency
            self.keepFinished = keepFinished
            self.integrationIdentifier = integrationIdentifier
            self.metrics = metrics
            self.redactor = redactor
        }
    }

    let integration: OceanIntegration
    private let integrationConfig: IntegrationConfig
    let mappingSource: any MappingSource
    let sink: any ReconcilingSink
    let store: any DeliveryStore
    let recentChanges: RecentChanges
    /// What was last written of each entity: a delivery's writes update it, its deletes drop it.
    let digests: (any WriteDigests)?
    let pool: MappingPool
    let settings: Settings
    let logger: Logger

    /// The waiting deliveries (pending or failed) per ordering key, oldest first: the schedule is
    /// kept here so choosing the next delivery never scans the store; the store is for durability.
    var waiting: [String: [Waiting]] = [:]
    var queued = 0 {
        didSet { settings.metrics.webhookQueueDepth(queued) }
    }
    /// Slots taken by deliveries being stored (they count against `maxQueued` before the write).
    private var reserved = 0
    /// Idempotency keys of deliveries accepted or being stored, with their ids (bounded; older keys
    /// are found in the store).
    private var recentKeys: [String: String] = [:]
    private var recentKeyOrder: [String] = []
    /// Per ordering key, the last accepted delivery's body digest and id: the same body again right
    /// after is a sender's retry, and applying it once is the same as applying it twice.
    private var lastBodies: [String: (digest: Int, length: Int, id: String)] = [:]
    /// Deliveries being applied, and their ordering keys.
    var active: Set<String> = []
    var activeKeys: Set<String> = []

    struct Waiting {
        let id: String
        let acceptedAt: Date
        var nextAttemptAt: Date
    }
    /// Wakes `run()`: a delivery arrived or finished, or the service is stopping.
    let wakeup = Wakeup()
    private var stopped = false
    private var isRunning = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    let tallies = Locked(WebhookCounters())
    /// What was accepted, refused, applied.
    public nonisolated var counters: WebhookCounters { tallies.current }

    public init(
        integration: OceanIntegration, integrationConfig: IntegrationConfig, mappingSource: any MappingSource,
        sink: any ReconcilingSink, store: any DeliveryStore, recentChanges: RecentChanges, pool: MappingPool,
        settings: Settings, logger: Logger, digests: (any WriteDigests)? = nil
    ) {
        self.digests = digests
        self.integration = integration
        self.integrationConfig = integrationConfig
        self.mappingSource = mappingSource
        self.sink = sink
        self.store = store
        self.recentChanges = recentChanges
        self.pool = pool
        self.settings = settings
        self.logger = logger
    }

    /// Reads the deliveries left from before a restart; `run()` applies them first.
    public func prepare() async throws {
        for delivery in try await store.waiting() {
            waiting[delivery.orderingKey, default: []].append(Waiting(id: delivery.id, acceptedAt: delivery.acceptedAt, nextAttemptAt: delivery.nextAttemptAt))
        }
        queued = waiting.values.reduce(0) { $0 + $1.count }
        if queued > 0 { logger.info("webhook deliveries waiting from before the restart", metadata: ["count": "\(queued)"]) }
    }

    /// Applies deliveries until graceful shutdown (or cancellation, or `stop()`).
    public func run() async {
        isRunning = true
        await withDiscardingTaskGroup { group in
            group.addTask {
                // Returns on graceful shutdown, throws when cancelled: stop either way.
                try? await gracefulShutdown()
                await self.beginStopping()
            }
            while !stopped && !Task.isCancelled {
                for (id, key) in takeDue() {
                    group.addTask { await self.process(id: id, key: key) }
                }
                // Until a delivery arrives or finishes, or the next retry comes due.
                if let due = nextRetryDue() {
                    await wakeup.wait(timeout: .milliseconds(max(1, Int64(due.timeIntervalSinceNow * 1000))))
                } else {
                    await wakeup.wait()
                }
            }
            group.cancelAll()
        }
        isRunning = false
        for waiter in stopWaiters { waiter.resume() }
        stopWaiters = []
    }

    /// Stops taking and applying deliveries and returns once those in progress are done. Waiting
    /// ones stay stored.
    public func stop() async {
        beginStopping()
        guard isRunning else { return }
        await withCheckedContinuation { stopWaiters.append($0) }
    }

    private func beginStopping() {
        stopped = true
        wakeup.signal()
    }

    /// Checks a delivery (processors for the path, JSON, authentication, payload) and stores it.
    ///
    /// The checks run in the caller's task, not on the dispatcher, so a large body nobody wants
    /// never holds up the deliveries behind it; the dispatcher only orders and stores.
    public nonisolated func accept(path: String, headers: [(name: String, value: String)], body: [UInt8]) async throws(WebhookError) -> WebhookAcceptance {
        let processors = integration.webhookProcessors(for: path)
        guard !processors.isEmpty else { throw reject(.unknownPath, "no webhook processor on /integration\(path)") }
        // The depth jq can parse: deeper JSON could be accepted and then never applied.
        guard !JSONDepth.exceeds(body) else {
            throw reject(.invalidJSON, "the body nests deeper than \(JSONDepth.jqLimit) levels, more than jq parses")
        }
        let payload: JSON
        do {
            payload = try JSONDecoder().decode(JSON.self, from: Data(body))
        } catch {
            throw reject(.invalidJSON, "the body is not valid JSON")
        }
        var headerMap: [String: String] = [:]
        for header in headers { headerMap[header.name.lowercased()] = header.value }
        let event = WebhookEvent(path: path, headers: headerMap, rawBody: body, payload: payload)
        let interested = processors.filter { $0.shouldProcess(event) }
        // Authentication comes before anything is stored or answered, even for events no processor wants.
        let authenticated = interested.filter { $0.authenticate(event, config: integrationConfig) }
        guard !authenticated.isEmpty || interested.isEmpty else {
            throw reject(.unauthenticated, "the delivery is not authenticated (signature missing or wrong)")
        }
        guard let processor = authenticated.first else {
            tallies.withLock { $0.ignored += 1 }
            settings.metrics.webhook("ignored")
            return WebhookAcceptance(id: Self.newID(), ignored: true, duplicate: false)
        }
        guard authenticated.allSatisfy({ $0.validate(event) }) else {
            throw reject(.invalidPayload, "the payload is not what the processor of /integration\(path) expects")
        }
        var delivery = Delivery(
            id: Self.newID(), path: path, orderingKey: processor.orderingKey(event),
            headers: headerMap.filter { !Delivery.credentialHeaders.contains($0.key) }, body: body, acceptedAt: Date())
        delivery.idempotencyKey = processor.idempotencyKey(event).map { path + "\u{0}" + $0 }
        return try await enqueue(delivery)
    }

    private nonisolated static func newID() -> String {
        "dlv_" + JobID.make(now: Date()).dropFirst(4)
    }

    /// Stores a checked delivery unless it is a duplicate, within the queue's bound. The slot is
    /// taken before the store is written (an `await`), so concurrent deliveries cannot overrun it.
    private func enqueue(_ given: Delivery) async throws(WebhookError) -> WebhookAcceptance {
        var delivery = given
        guard !stopped else { throw reject(.stopped, "the service is shutting down") }
        if let key = delivery.idempotencyKey {
            if let first = recentKeys[key] {
                return duplicate(of: first)
            }
            if let stored = try? await store.delivery(idempotencyKey: key) {
                return duplicate(of: stored.id)
            }
            // Taken while the store was read?
            if let first = recentKeys[key] { return duplicate(of: first) }
        }
        let digest = delivery.body.withUnsafeBytes { bytes -> Int in
            var hasher = Hasher()
            hasher.combine(bytes: bytes)
            return hasher.finalize()
        }
        let bodyKey = delivery.path + "\u{0}" + delivery.orderingKey
        if let last = lastBodies[bodyKey], last.digest == digest, last.length == delivery.body.count {
            return duplicate(of: last.id)
        }
        guard queued + reserved < settings.maxQueued else {
            throw reject(.queueFull, "\(queued + reserved) deliveries are waiting; retry later")
        }
        reserved += 1
        if let key = delivery.idempotencyKey { remember(key: key, id: delivery.id) }
        lastBodies[bodyKey] = (digest, delivery.body.count, delivery.id)
        if lastBodies.count > 100_000 { lastBodies.removeAll(keepingCapacity: true) }
        do {
            delivery.nextAttemptAt = delivery.acceptedAt
            try await store.insert(delivery)
        } catch {
            reserved -= 1
            if let key = delivery.idempotencyKey { recentKeys[key] = nil }
            if lastBodies[bodyKey]?.id == delivery.id { lastBodies[bodyKey] = nil }
            logger.error("storing a webhook delivery failed", metadata: ["error": "\(error)"])
            throw reject(.storeUnavailable, "the delivery could not be stored durably; retry later")
        }
        reserved -= 1
        queued += 1
        waiting[delivery.orderingKey, default: []].append(Waiting(id: delivery.id, acceptedAt: delivery.acceptedAt, nextAttemptAt: delivery.acceptedAt))
        tallies.withLock { $0.accepted += 1 }
        settings.metrics.webhook("accepted")
        wakeUp()
        return WebhookAcceptance(id: delivery.id, ignored: false, duplicate: false)
    }

    private func duplicate(of id: String) -> WebhookAcceptance {
        tallies.withLock { $0.duplicates += 1 }
        settings.metrics.webhook("duplicate")
        return WebhookAcceptance(id: id, ignored: false, duplicate: true)
    }

    /// Keeps the last 100,000 idempotency keys in memory; older ones are looked up in the store.
    private func remember(key: String, id: String) {
        recentKeys[key] = id
        recentKeyOrder.append(key)
        if recentKeyOrder.count > 100_000 {
            for old in recentKeyOrder.prefix(50_000) { recentKeys[old] = nil }
            recentKeyOrder.removeFirst(50_000)
        }
    }

    /// Puts a failed or dead (or done) delivery back in the queue, with its attempts reset.
    public func replay(_ id: String) async throws(WebhookError) -> Delivery {
        let stored: Delivery?
        do { stored = try await store.delivery(id) } catch { throw WebhookError(.storeUnavailable, "the delivery store failed: \(error)") }
        guard var delivery = stored else { throw WebhookError(.unknownDelivery, "no delivery \(id)") }
        guard delivery.status != .pending, delivery.status != .failed else {
            throw WebhookError(.notReplayable, "delivery \(id) is already waiting for its turn")
        }
        delivery.status = .pending
        delivery.attempts = 0
        delivery.nextAttemptAt = Date()
        delivery.lastError = nil
        do { try await store.update(delivery) } catch { throw WebhookError(.storeUnavailable, "the delivery store failed: \(error)") }
        queued += 1
        waiting[delivery.orderingKey, default: []].append(Waiting(id: delivery.id, acceptedAt: delivery.acceptedAt, nextAttemptAt: delivery.nextAttemptAt))
        wakeUp()
        return delivery
    }

    /// The stored delivery `id`, nil when there is none.
    public func delivery(_ id: String) async throws -> Delivery? {
        try await store.delivery(id)
    }

    public func deliveries(status: Delivery.Status?, limit: Int) async throws -> [Delivery] {
        try await store.list(status: status, limit: limit)
    }


    private nonisolated func reject(_ code: WebhookError.Code, _ message: String) -> WebhookError {
        tallies.withLock { $0.rejected[code.description, default: 0] += 1 }
        settings.metrics.webhook("rejected_" + code.description)
        return WebhookError(code, message)
    }
}

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

    private let integration: OceanIntegration
    private let integrationConfig: IntegrationConfig
    private let mappingSource: any MappingSource
    private let sink: any ReconcilingSink
    private let store: any DeliveryStore
    private let recentChanges: RecentChanges
    private let pool: MappingPool
    private let settings: Settings
    private let logger: Logger

    /// The waiting deliveries (pending or failed) per ordering key, oldest first: the schedule is
    /// kept here so choosing the next delivery never scans the store; the store is for durability.
    private var waiting: [String: [Waiting]] = [:]
    private var queued = 0 {
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
    private var active: Set<String> = []
    private var activeKeys: Set<String> = []

    private struct Waiting {
        let id: String
        let acceptedAt: Date
        var nextAttemptAt: Date
    }
    /// Wakes `run()`: a delivery arrived or finished, or the service is stopping.
    private let wakeup = Wakeup()
    private var stopped = false
    private var isRunning = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    private let tallies = Locked(WebhookCounters())
    /// What was accepted, refused, applied.
    public nonisolated var counters: WebhookCounters { tallies.current }

    public init(
        integration: OceanIntegration, integrationConfig: IntegrationConfig, mappingSource: any MappingSource,
        sink: any ReconcilingSink, store: any DeliveryStore, recentChanges: RecentChanges, pool: MappingPool,
        settings: Settings, logger: Logger
    ) {
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

    // MARK: Applying

    private func wakeUp() {
        wakeup.signal()
    }

    /// Takes the due deliveries whose key is free, oldest first. Only the oldest delivery of a key
    /// can start, so a key whose oldest delivery waits for a retry holds the others back (order per
    /// key), while a long backlog of one key never holds back the other keys.
    private func takeDue() -> [(id: String, key: String)] {
        guard active.count < settings.concurrency else { return [] }
        let now = Date()
        let heads = waiting.compactMap { key, deliveries -> (key: String, head: Waiting)? in
            guard let head = deliveries.first, !activeKeys.contains(key), head.nextAttemptAt <= now else { return nil }
            return (key, head)
        }.sorted { $0.head.acceptedAt < $1.head.acceptedAt }
        var taken: [(id: String, key: String)] = []
        for (key, head) in heads {
            guard active.count < settings.concurrency else { break }
            activeKeys.insert(key)
            active.insert(head.id)
            taken.append((head.id, key))
        }
        return taken
    }

    /// When the earliest retry of a free key comes due (nil when none waits for one).
    private func nextRetryDue() -> Date? {
        guard active.count < settings.concurrency else { return nil }
        return waiting.compactMap { key, deliveries -> Date? in
            guard let head = deliveries.first, !activeKeys.contains(key) else { return nil }
            return head.nextAttemptAt
        }.min()
    }

    private func process(id: String, key: String) async {
        let stored: Delivery?
        do {
            stored = try await store.delivery(id)
        } catch {
            logger.error("reading a webhook delivery failed", metadata: ["webhook.delivery": "\(id)", "error": "\(error)"])
            active.remove(id)
            activeKeys.remove(key)
            return
        }
        guard var delivery = stored else {
            // Pruned or gone: nothing to apply.
            finishHead(key: key, id: id, nextAttemptAt: nil)
            active.remove(id)
            activeKeys.remove(key)
            return
        }
        delivery.attempts += 1
        do {
            try await apply(delivery)
            delivery.status = .done
            delivery.appliedAt = Date()
            delivery.lastError = nil
            tallies.withLock { $0.processed += 1 }
            let latency = delivery.appliedAt!.timeIntervalSince(delivery.acceptedAt)
            settings.metrics.webhookApplied(after: .microseconds(Int64(latency * 1_000_000)))
        } catch {
            let policy = integration.webhookProcessors(for: delivery.path).first?.retryPolicy ?? WebhookRetryPolicy()
            delivery.lastError = String(settings.redactor.redact("\(error)").prefix(500))
            if delivery.attempts >= policy.maxAttempts {
                delivery.status = .dead
                tallies.withLock { $0.dead += 1 }
                settings.metrics.webhook("dead")
                logger.warning("webhook delivery is dead", metadata: ["webhook.delivery": "\(delivery.id)", "error": "\(error)"])
            } else {
                delivery.status = .failed
                delivery.nextAttemptAt = Date().addingTimeInterval(Double(policy.delay(afterAttempt: delivery.attempts) / .milliseconds(1)) / 1000)
                tallies.withLock { $0.retried += 1 }
                settings.metrics.webhook("retried")
            }
        }
        do {
            try await store.update(delivery)
            if delivery.status == .done && counters.processed % 500 == 0 {
                try await store.prune(keepFinished: settings.keepFinished)
            }
        } catch {
            logger.error("recording a webhook delivery failed", metadata: ["webhook.delivery": "\(delivery.id)", "error": "\(error)"])
        }
        finishHead(key: key, id: id, nextAttemptAt: delivery.status == .failed ? delivery.nextAttemptAt : nil)
        active.remove(id)
        activeKeys.remove(key)
        wakeUp()
    }

    /// Done or dead: the key's next delivery moves up. Failed: the head waits until `nextAttemptAt`.
    private func finishHead(key: String, id: String, nextAttemptAt: Date?) {
        guard var deliveries = waiting[key], let index = deliveries.firstIndex(where: { $0.id == id }) else { return }
        if let nextAttemptAt {
            deliveries[index].nextAttemptAt = nextAttemptAt
        } else {
            deliveries.remove(at: index)
            queued -= 1
        }
        waiting[key] = deliveries.isEmpty ? nil : deliveries
    }

    /// Runs the processors for the delivery and writes their results through the kinds' mappings.
    private func apply(_ delivery: Delivery) async throws {
        let payload = try JSONDecoder().decode(JSON.self, from: Data(delivery.body))
        let event = WebhookEvent(path: delivery.path, headers: delivery.headers, rawBody: delivery.body, payload: payload)
        let mapping = try await mappingSource.currentMapping()
        let (plan, issues) = await pool.plan(for: mapping)
        guard issues.isEmpty else {
            throw WebhookError(.invalidPayload, "the mapping is invalid: \(issues.map(\.description).joined(separator: "; "))")
        }
        for processor in integration.webhookProcessors(for: delivery.path) where processor.shouldProcess(event) {
            for kind in processor.matchingKinds(event) {
                for (index, resource) in mapping.resources(ofKind: kind) {
                    let results = try await processor.handle(event, resource: resource)
                    try await write(results, resourceIndex: index, mapping: mapping, plan: plan, delivery: delivery)
                }
            }
        }
    }

    private func write(_ results: WebhookResults, resourceIndex: Int, mapping: PortAppConfig, plan: MappingPlan, delivery: Delivery) async throws {
        // Updated records that pass the selector are upserted; the entities of those that do not, and
        // of deleted records, are deleted.
        let selected = await pool.map(results.updated.recordBatch(), plan: plan, resources: [resourceIndex])
        let everything = await pool.map((results.updated + results.deleted).recordBatch(), plan: plan, resources: [resourceIndex],
                                        selectors: .ignore)
        if selected.failed > 0 || everything.failed > 0 {
            let problem = (selected.problems + everything.problems).first.map(\.description) ?? "a record could not be mapped"
            throw WebhookError(.invalidPayload, "mapping the delivery's records failed: \(problem)")
        }
        let upserting = Set(selected.entities.map { MappedKey($0.blueprint, $0.identifier) })
        let deleting = everything.entities.filter { !upserting.contains(MappedKey($0.blueprint, $0.identifier)) }
        // Marked before the write: a running resync leaves these alone from now on, and a resync
        // write already under way on them finishes first (ours lands after it).
        await recentChanges.markChanging((selected.entities + deleting).map { (blueprint: $0.blueprint, identifier: $0.identifier) }, at: Date())
        if !selected.entities.isEmpty {
            let options = UpsertOptions(merge: mapping.enableMergeEntity, createMissingRelatedEntities: mapping.createMissingRelatedEntities,
                                        integrationIdentifier: settings.integrationIdentifier, jobID: "webhook:\(delivery.id)",
                                        tracksWrites: false)
            let outcome = try await sink.upsert(selected.entities, options: options)
            if let failure = outcome.failures.first {
                throw WebhookError(.invalidPayload, "the destination refused \(failure.identifier): \(failure.message)")
            }
        }
        var byBlueprint: [String: [String]] = [:]
        for entity in deleting { byBlueprint[entity.blueprint, default: []].append(entity.identifier) }
        for (blueprint, identifiers) in byBlueprint {
            _ = try await sink.delete(blueprint: blueprint, identifiers: identifiers, integration: settings.integrationIdentifier,
                                      deleteDependents: mapping.deleteDependentEntities)
        }
    }

    private struct MappedKey: Hashable {
        let blueprint: String
        let identifier: String
        init(_ blueprint: String, _ identifier: String) {
            self.blueprint = blueprint
            self.identifier = identifier
        }
    }
}

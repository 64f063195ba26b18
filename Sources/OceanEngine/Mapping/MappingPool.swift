import Dispatch
import Essentials
public import JQ
public import OceanKit
public import ServiceLifecycle


/// The service's mapping threads, shared by every job and webhook delivery for as long as the
/// service runs.
///
/// Each thread keeps its own `EntityMapper` per plan (jq states are never shared between threads),
/// so a mapping is compiled once per thread, not once per job. Plans are built off the cooperative
/// pool and cached by mapping: jobs and deliveries with the same mapping share one. Callers `await`
/// a batch's result; at most one batch per thread runs at once and the rest wait in a queue, so
/// callers bound memory by bounding what they submit.
///
/// As a `Service`, `run()` returns on graceful shutdown or cancellation once the threads have
/// finished their batches and exited; `stop()` does the same for a pool used without a service group.
public final class MappingPool: Service, Sendable, CustomStringConvertible {
    public var description: String { "MappingPool" }

    /// Whether a resource's selector decides which records map.
    public enum Selectors: Sendable, Hashable {
        /// Records the selector refuses are counted as filtered out (resyncs, webhook upserts).
        case apply
        /// Every record maps: which entity a record is, whatever the selector says (webhook deletes).
        case ignore
    }

    private struct Batch: Sendable {
        let records: RecordBatch
        let plan: MappingPlan
        let resources: [Int]
        let selectors: Selectors
        let problemLimit: Int
        let continuation: CheckedContinuation<MappingResult, Never>
    }

    private enum Item: Sendable {
        case batch(Batch)
        case stop
    }

    private struct State {
        var queue: [Item] = []
        var stopping = false
        var exited = 0
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
        /// Plans by mapping, the most recently used last (a few: a mapping changes rarely).
        var plans: [(config: PortAppConfig, plan: MappingPlan, issues: [MappingIssue])] = []
    }

    /// The number of threads.
    public let count: Int
    public let strategy: EntityMapper.Strategy
    private let options: JQDialect.Options
    private let state = Locked(State())
    private let available = DispatchSemaphore(value: 0)

    /// Starts `count` threads (at least 1); plans are built with `options`.
    public init(workers count: Int, strategy: EntityMapper.Strategy = .combined, options: JQDialect.Options = .init()) {
        self.count = max(1, count)
        self.strategy = strategy
        self.options = options
        for _ in 0..<self.count { startThread() }
    }

    /// The plan for `config`, built (every program compiled once to check it) on a thread of its
    /// own the first time, then shared.
    public func plan(for config: PortAppConfig) async -> (plan: MappingPlan, issues: [MappingIssue]) {
        let cached = state.withLock { state -> (plan: MappingPlan, issues: [MappingIssue])? in
            guard let index = state.plans.firstIndex(where: { $0.config == config }) else { return nil }
            let entry = state.plans.remove(at: index)
            state.plans.append(entry)
            return (entry.plan, entry.issues)
        }
        if let cached { return cached }
        let options = self.options
        let built = await runOnOwnThread { MappingPlan.build(config, options: options) }
        return state.withLock { state in
            // Another caller may have built the same meanwhile: keep one, so threads compile once.
            if let index = state.plans.firstIndex(where: { $0.config == config }) {
                return (state.plans[index].plan, state.plans[index].issues)
            }
            state.plans.append((config, built.plan, built.issues))
            if state.plans.count > 4 { state.plans.removeFirst() }
            return built
        }
    }

    /// Maps `records` with the given resources of `plan` on one of the threads.
    public func map(
        _ records: RecordBatch, plan: MappingPlan, resources: [Int], selectors: Selectors = .apply, problemLimit: Int = 1000
    ) async -> MappingResult {
        await withCheckedContinuation { continuation in
            let batch = Batch(records: records, plan: plan, resources: resources, selectors: selectors,
                              problemLimit: problemLimit, continuation: continuation)
            let accepted = state.withLock { state -> Bool in
                guard !state.stopping else { return false }
                state.queue.append(.batch(batch))
                return true
            }
            if accepted {
                available.signal()
            } else {
                // Stopped: map here rather than never answer.
                continuation.resume(returning: Self.map(batch, with: EntityMapper(plan: plan, strategy: strategy)))
            }
        }
    }

    /// Runs until graceful shutdown or cancellation, then stops the threads and waits for them.
    public func run() async throws {
        try? await gracefulShutdown()
        await stop()
    }

    /// Lets the threads finish the queued batches, then ends them; returns once they have exited.
    public func stop() async {
        let first = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.stopping = true
            for _ in 0..<count { state.queue.append(.stop) }
            return true
        }
        if first { for _ in 0..<count { available.signal() } }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                guard state.exited < count else { return true }
                state.exitWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func startThread() {
        let started = Essentials.startThread { [self] in work() }
        precondition(started, "cannot start a mapping thread")
    }

    /// A thread's loop, with its mappers by plan (the most recently used last).
    private func work() {
        var mappers: [(id: Int, mapper: EntityMapper)] = []
        func mapper(for plan: MappingPlan) -> EntityMapper {
            if let index = mappers.firstIndex(where: { $0.id == plan.id }) {
                let entry = mappers.remove(at: index)
                mappers.append(entry)
                return entry.mapper
            }
            let made = EntityMapper(plan: plan, strategy: strategy)
            mappers.append((plan.id, made))
            if mappers.count > 4 { mappers.removeFirst() }
            return made
        }
        while true {
            available.wait()
            let item = state.withLock { $0.queue.isEmpty ? nil : $0.queue.removeFirst() }
            switch item {
            case .batch(let batch):
                batch.continuation.resume(returning: Self.map(batch, with: mapper(for: batch.plan)))
            case .stop:
                let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                    state.exited += 1
                    guard state.exited == count else { return [] }
                    defer { state.exitWaiters = [] }
                    return state.exitWaiters
                }
                for waiter in waiters { waiter.resume() }
                return
            case nil:
                continue
            }
        }
    }

    private static func map(_ batch: Batch, with mapper: EntityMapper) -> MappingResult {
        var result = MappingResult(problemLimit: batch.problemLimit)
        for problem in batch.records.problems { result.report(problem) }
        result.failed += batch.records.problems.count
        batch.records.bytes.withUnsafeBytes { bytes in
            for (position, range) in batch.records.ranges.enumerated() {
                mapper.map(recordBytes: UnsafeRawBufferPointer(rebasing: bytes[range]), recordIndex: batch.records.indexes[position],
                           resources: batch.resources, selectors: batch.selectors, into: &result)
            }
        }
        return result
    }
}

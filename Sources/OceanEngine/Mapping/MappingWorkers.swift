import Dispatch
import JQ
import Essentials

#if canImport(Glibc)
import Glibc
#endif

/// Worker threads that map record batches, each with its own `EntityMapper` (jq states are never
/// shared between threads). Callers `await` a batch's result; at most one batch per worker runs at
/// once, the rest wait in a queue, so callers bound memory by bounding what they submit.
public final class MappingWorkers: Sendable {
    private struct Job: Sendable {
        let batch: RecordBatch
        let resources: [Int]
        let problemLimit: Int
        let continuation: CheckedContinuation<MappingResult, Never>
    }

    private enum Item: Sendable {
        case job(Job)
        case stop
    }

    public let count: Int
    private let queue = Locked<[Item]>([])
    private let available = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)

    /// Starts `count` threads (at least 1) mapping with `plan`.
    public init(plan: MappingPlan, count: Int, strategy: EntityMapper.Strategy = .combined) {
        self.count = max(1, count)
        for _ in 0..<self.count {
            let context = Unmanaged.passRetained(WorkerStart(workers: self, plan: plan, strategy: strategy))
            var thread = pthread_t()
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            // jq recurses on deep inputs: give it room.
            pthread_attr_setstacksize(&attributes, 8 << 20)
            let created = pthread_create(&thread, &attributes, { argument in
                let start = Unmanaged<WorkerStart>.fromOpaque(argument!).takeRetainedValue()
                start.workers.work(mapper: EntityMapper(plan: start.plan, strategy: start.strategy))
                return nil
            }, context.toOpaque())
            pthread_attr_destroy(&attributes)
            precondition(created == 0, "cannot start a mapping thread: error \(created)")
            pthread_detach(thread)
        }
    }

    /// Maps `batch` with the given resources on one of the threads.
    public func map(_ batch: RecordBatch, resources: [Int], problemLimit: Int = 1000) async -> MappingResult {
        await withCheckedContinuation { continuation in
            queue.withLock {
                $0.append(.job(Job(batch: batch, resources: resources, problemLimit: problemLimit, continuation: continuation)))
            }
            available.signal()
        }
    }

    /// Stops the threads once the queued batches are done, and waits for them (blocking: call it
    /// from a thread that may block, not from an actor or the cooperative pool — use `stop()` there).
    public func shutdown() {
        stop()
        for _ in 0..<count { stopped.wait() }
    }

    /// Asks the threads to stop once the queued batches are done, without waiting.
    public func stop() {
        queue.withLock { items in
            for _ in 0..<count { items.append(.stop) }
        }
        for _ in 0..<count { available.signal() }
    }

    private func work(mapper: EntityMapper) {
        while true {
            available.wait()
            let item = queue.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            switch item {
            case .job(let job):
                var result = MappingResult(problemLimit: job.problemLimit)
                for problem in job.batch.problems { result.report(problem) }
                result.failed += job.batch.problems.count
                job.batch.bytes.withUnsafeBytes { bytes in
                    for (position, range) in job.batch.ranges.enumerated() {
                        mapper.map(recordBytes: UnsafeRawBufferPointer(rebasing: bytes[range]),
                                   recordIndex: job.batch.indexes[position], resources: job.resources, into: &result)
                    }
                }
                job.continuation.resume(returning: result)
            case .stop:
                stopped.signal()
                return
            case nil:
                continue
            }
        }
    }
}

private final class WorkerStart: Sendable {
    let workers: MappingWorkers
    let plan: MappingPlan
    let strategy: EntityMapper.Strategy

    init(workers: MappingWorkers, plan: MappingPlan, strategy: EntityMapper.Strategy) {
        self.workers = workers
        self.plan = plan
        self.strategy = strategy
    }
}

import Essentials
import CLibevent
import Logging
import Metrics

#if os(Linux)
import Glibc
#else
#error("swift-ocean runs on Linux: its event loops are woken through an eventfd")
#endif

/// What every loop of one server shares: immutable, so any thread may read it.
struct ServerContext: Sendable {
    let configuration: HTTPServerConfiguration
    let router: Router
    let logger: Logger
    /// Largest body evhttp reads at all; routes check their own (smaller) limits after routing.
    let connectionBodyLimit: Int
    /// Where request counts and durations go; nil for none.
    let metrics: (any MetricsFactory)?
    /// The body bytes all loops may hold at once.
    let bodyBudget: BodyBudget
}

/// One event-loop thread with its own `event_base` and `evhttp`.
///
/// The thread creates, uses and frees every libevent object itself; other threads reach it only
/// through `execute`, which queues a job and wakes the loop through an eventfd the loop watches.
/// This is how a task completes a request: it queues the reply. libevent itself is never called
/// from another thread, so it runs without its own locks.
final class EventLoop: Sendable {
    typealias Job = @Sendable (LoopContext) -> Void

    private struct Mailbox {
        var jobs: [Job] = []
        /// The eventfd the loop watches; -1 before start and after stop.
        var wakeFD: Int32 = -1
        var closed = false
        var stopped: CheckedContinuation<Void, Never>?
    }

    let index: Int
    private let mailbox = Locked(Mailbox())

    private init(index: Int) {
        self.index = index
    }

    /// Starts a loop thread bound to `port` (0: any free port) and returns it with the bound port.
    static func start(index: Int, port: Int, server: ServerContext) async throws -> (EventLoop, Int) {
        let loop = EventLoop(index: index)
        let boundPort = try await withCheckedThrowingContinuation { (startup: CheckedContinuation<Int, any Error>) in
            let start = Unmanaged.passRetained(LoopThreadStart(loop: loop, port: port, server: server, startup: startup))
            var thread = pthread_t()
            let created = pthread_create(&thread, nil, { argument in
                let start = Unmanaged<LoopThreadStart>.fromOpaque(argument!).takeRetainedValue()
                start.loop.runOnLoopThread(port: start.port, server: start.server, startup: start.startup)
                return nil
            }, start.toOpaque())
            if created != 0 {
                start.release()
                startup.resume(throwing: HTTPServerError.libeventFailed("cannot start a loop thread: error \(created)"))
            } else {
                pthread_detach(thread)
            }
        }
        return (loop, boundPort)
    }

    /// Queues `job` for the loop thread. Returns false once the loop has stopped (the job is dropped).
    @discardableResult
    func execute(_ job: @escaping Job) -> Bool {
        mailbox.withLock { box in
            guard !box.closed, box.wakeFD >= 0 else { return false }
            let wasEmpty = box.jobs.isEmpty
            box.jobs.append(job)
            // One wake-up drains the whole queue: signal only for the first job queued since the last
            // drain. Under the lock, so the fd cannot be closed in between.
            if wasEmpty { swift_ocean_wakeup_signal(box.wakeFD) }
            return true
        }
    }

    /// Runs `body` on the loop thread and returns its result; `nil` when the loop has stopped.
    func submit<Result: Sendable>(_ body: @escaping @Sendable (LoopContext) -> Result) async -> Result? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result?, Never>) in
            let queued = execute { context in continuation.resume(returning: body(context)) }
            if !queued { continuation.resume(returning: nil) }
        }
    }

    /// Waits until the loop has nothing in flight (true) or `timeout` passes (false).
    func waitUntilDrained(timeout: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let queued = execute { context in context.addDrainWaiter(continuation, timeout: timeout) }
            if !queued { continuation.resume(returning: true) }
        }
    }

    /// Answers whatever is still pending, breaks the loop and waits until the thread has freed everything.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyStopped = mailbox.withLock { box -> Bool in
                if box.closed { return true }
                box.stopped = continuation
                return false
            }
            if alreadyStopped {
                continuation.resume()
            } else {
                execute { context in context.breakLoop() }
            }
        }
    }

    /// Runs the queued jobs; called by the wake event on the loop thread.
    fileprivate func drainMailbox(_ context: LoopContext) {
        let jobs = mailbox.withLock { box -> [Job] in
            swift_ocean_wakeup_reset(box.wakeFD)
            let jobs = box.jobs
            box.jobs.removeAll(keepingCapacity: true)
            return jobs
        }
        for job in jobs { job(context) }
    }

    private func runOnLoopThread(port: Int, server: ServerContext, startup: CheckedContinuation<Int, any Error>) {
        let context: LoopContext
        do {
            context = try LoopContext(loop: self, port: port, server: server)
        } catch {
            startup.resume(throwing: error)
            return
        }
        let unmanagedContext = Unmanaged.passRetained(context)
        let wakeFD = swift_ocean_wakeup_open()
        let wake = wakeFD < 0 ? nil : swift_ocean_wakeup_event_new(context.base, wakeFD, { _, _, argument in
            let context = Unmanaged<LoopContext>.fromOpaque(argument!).takeUnretainedValue()
            context.loop.drainMailbox(context)
        }, unmanagedContext.toOpaque())
        guard let wake, event_add(wake, nil) == 0 else {
            if wakeFD >= 0 { Glibc.close(wakeFD) }
            context.close()
            unmanagedContext.release()
            startup.resume(throwing: HTTPServerError.libeventFailed("cannot create the loop's wake-up event"))
            return
        }
        mailbox.withLock { $0.wakeFD = wakeFD }
        startup.resume(returning: context.boundPort)

        // Keep running when no event is pending (e.g. no connection and the listener already closed):
        // only `breakLoop` ends this loop.
        event_base_loop(context.base, EVLOOP_NO_EXIT_ON_EMPTY)

        let stopped = mailbox.withLock { box -> CheckedContinuation<Void, Never>? in
            box.closed = true
            box.jobs.removeAll()
            event_free(wake)
            Glibc.close(box.wakeFD)
            box.wakeFD = -1
            return box.stopped
        }
        context.close()
        unmanagedContext.release()
        stopped?.resume()
    }
}

/// The arguments of a new loop thread.
private final class LoopThreadStart: Sendable {
    let loop: EventLoop
    let port: Int
    let server: ServerContext
    let startup: CheckedContinuation<Int, any Error>

    init(loop: EventLoop, port: Int, server: ServerContext, startup: CheckedContinuation<Int, any Error>) {
        self.loop = loop
        self.port = port
        self.server = server
        self.startup = startup
    }
}

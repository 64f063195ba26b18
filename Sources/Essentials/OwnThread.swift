#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body` on a thread of its own and returns its result to the awaiting task.
///
/// For long synchronous work (compiling a mapping's jq programs takes from milliseconds to
/// seconds) that must not hold a thread of the cooperative pool: on two cores the pool has two, and
/// every request handler, job and webhook delivery of the service waits for them.
public func runOnOwnThread<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
        let run: @Sendable () -> Void = { continuation.resume(returning: body()) }
        // No thread to be had: do the work here rather than not at all.
        if !startThread(run) { run() }
    }
}

/// Starts a detached thread with room for jq's recursion (8 MiB of stack, as on the mapping
/// threads) running `body`; false when the system has no thread to give.
@discardableResult
public func startThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    let work = Unmanaged.passRetained(ThreadBody(body))
    var thread = pthread_t()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setstacksize(&attributes, 8 << 20)
    let created = pthread_create(&thread, &attributes, { argument in
        Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue().run()
        return nil
    }, work.toOpaque())
    pthread_attr_destroy(&attributes)
    guard created == 0 else {
        work.release()
        return false
    }
    pthread_detach(thread)
    return true
}

/// The closure a thread started by `startThread` runs.
private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void

    init(_ run: @escaping @Sendable () -> Void) {
        self.run = run
    }
}

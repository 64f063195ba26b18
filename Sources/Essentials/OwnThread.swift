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
        let work = Unmanaged.passRetained(OwnThreadWork { continuation.resume(returning: body()) })
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        // jq recurses while it compiles and runs: room as on the mapping threads.
        pthread_attr_setstacksize(&attributes, 8 << 20)
        let created = pthread_create(&thread, &attributes, { argument in
            Unmanaged<OwnThreadWork>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, work.toOpaque())
        pthread_attr_destroy(&attributes)
        if created == 0 {
            pthread_detach(thread)
        } else {
            // No thread to be had: do the work here rather than not at all.
            work.takeRetainedValue().run()
        }
    }
}

/// The closure a thread started by `runOnOwnThread` runs.
private final class OwnThreadWork: Sendable {
    let run: @Sendable () -> Void

    init(_ run: @escaping @Sendable () -> Void) {
        self.run = run
    }
}

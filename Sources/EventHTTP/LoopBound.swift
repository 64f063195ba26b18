#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value that belongs to one event-loop thread and may be touched only there.
///
/// evhttp is not thread-safe: a request, its buffers and the `evhttp` itself must be used only on
/// the loop thread that owns them. `LoopBound` lets such a value travel through `Sendable` code (for
/// example inside a reply that a task hands back) while every access checks, in release builds too,
/// that it happens on the owning thread: a wrong thread here would corrupt libevent's state, so it
/// stops the process at once instead. Modelled on swift-nio's `NIOLoopBound`.
public struct LoopBound<Value>: @unchecked Sendable {
    private let owner: pthread_t
    private let storage: Value

    /// Binds `value` to the calling thread, which must be the loop thread.
    init(_ value: Value, ownerThread: pthread_t) {
        owner = ownerThread
        storage = value
        assertOnOwner()
    }

    /// The value; only on the owning loop thread.
    var value: Value {
        assertOnOwner()
        return storage
    }

    private func assertOnOwner() {
        precondition(pthread_equal(pthread_self(), owner) != 0, "a loop-bound value was used off its loop thread")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The project's one lock type: a value guarded by a pthread mutex.
///
/// Use it for small shared state that any thread may touch briefly (queues of replies, flags,
/// counters). Keep the critical sections short and never `await` inside one. A pthread mutex was
/// chosen over `Synchronization.Mutex` because ThreadSanitizer understands it: it reported races on
/// `Mutex` in this project's code and none on this lock (the standard library is not instrumented).
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    /// Wraps `value`; from now on it is reached only through `withLock`.
    public init(_ value: Value) {
        self.value = value
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value and returns what it returns.
    @discardableResult
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

extension Locked where Value: Sendable {
    /// A copy of the current value.
    public var current: Value {
        withLock { $0 }
    }
}

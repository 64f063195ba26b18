import Essentials

/// A wake-up call between tasks: `signal()` wakes the task in `wait()`, or the next one to call it.
///
/// What a job waits on to learn it is cancelled, and what the webhook dispatcher sleeps on until a
/// delivery arrives or finishes. Lock-based, so a cancellation handler (synchronous) can signal it.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Locked(State())

    /// Returns once signalled (at once when a signal came since the last wait), or when the
    /// awaiting task is cancelled. One task waits at a time.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let signalled = state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if signalled { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
    }

    /// Like `wait()`, but returns after `timeout` at the latest.
    func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.wait() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}

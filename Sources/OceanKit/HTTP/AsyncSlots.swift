import Essentials

/// A counting semaphore for async code whose limit adapts: at most `limit` bodies run at once,
/// the limit halves when the other side says it is overloaded (`throttled()`, Port's 429) and grows
/// by one after a limit's worth of successes (additive increase, multiplicative decrease), never
/// beyond the configured maximum nor below one.
final class AsyncSlots: Sendable {
    private struct State {
        var limit: Int
        var inUse = 0
        var successes = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let maximum: Int
    private let state: Locked<State>

    init(_ limit: Int) {
        maximum = max(1, limit)
        state = Locked(State(limit: maximum))
    }

    /// The limit now.
    var limit: Int { state.withLock { $0.limit } }

    func withSlot<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        await acquire()
        defer { release() }
        return try await body()
    }

    /// The other side is overloaded: half as many at once from now on.
    func throttled() {
        state.withLock { state in
            state.limit = max(1, state.limit / 2)
            state.successes = 0
        }
    }

    /// One more success; a limit's worth of them in a row raises the limit by one.
    func succeeded() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.limit < maximum else { return [] }
            state.successes += 1
            guard state.successes >= state.limit else { return [] }
            state.successes = 0
            state.limit += 1
            return Self.grant(&state)
        }
        for waiter in woken { waiter.resume() }
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                if state.inUse < state.limit && state.waiters.isEmpty {
                    state.inUse += 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.inUse -= 1
            return Self.grant(&state)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Hands free slots to waiters, oldest first.
    private static func grant(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
        var woken: [CheckedContinuation<Void, Never>] = []
        while state.inUse < state.limit, !state.waiters.isEmpty {
            state.inUse += 1
            woken.append(state.waiters.removeFirst())
        }
        return woken
    }
}

import CLibevent
import Dispatch
import Essentials

/// The request body bytes the whole server holds at once, for requests not yet answered.
///
/// Any client can send a body before anything about it is authenticated (a webhook's signature
/// covers its body), so without a bound, many slow large bodies hold memory without limit. Every
/// loop reserves a body's declared length before reading it (a chunked body as its chunks arrive)
/// and gives it back when the reply is written or the connection closes; a body that does not fit
/// is answered 503 with `Retry-After`. When most of a large peak has come back, the C heap is asked
/// to return its free pages (the buffers of a burst of large bodies would otherwise stay resident).
final class BodyBudget: Sendable {
    private struct State {
        var held = 0
        /// The most held since the heap was last trimmed.
        var peak = 0
        var lastTrim: ContinuousClock.Instant?
    }

    let limit: Int
    private let state = Locked(State())

    init(limit: Int) {
        self.limit = limit
    }

    /// Bytes held now.
    var held: Int { state.withLock { $0.held } }

    /// Takes `bytes` from the budget; false (and nothing taken) when they do not fit.
    func reserve(_ bytes: Int) -> Bool {
        state.withLock { state in
            guard bytes <= limit - state.held else { return false }
            state.held += bytes
            state.peak = max(state.peak, state.held)
            return true
        }
    }

    /// Gives `bytes` back.
    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        let now = ContinuousClock.now
        let trim = state.withLock { state -> Bool in
            state.held -= bytes
            // Back to an eighth of a peak of at least 32 MiB: the burst is over. At most twice a
            // minute: trimming walks the whole heap.
            guard state.peak >= 32 << 20, state.held <= state.peak / 8 else { return false }
            if let last = state.lastTrim, now - last < .seconds(30) { return false }
            state.peak = state.held
            state.lastTrim = now
            return true
        }
        // Off the loop thread: trimming a large heap takes a while.
        if trim { DispatchQueue.global(qos: .background).async { swift_ocean_release_free_memory() } }
    }
}

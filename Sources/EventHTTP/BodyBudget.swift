import CLibevent
import Essentials

/// The request body bytes the whole server holds at once, for requests not yet answered.
///
/// Any client can send a body before anything about it is authenticated (a webhook's signature
/// covers its body), so without a bound, many slow large bodies hold memory without limit. Every
/// loop reserves a body's declared length before reading it (a chunked body as its chunks arrive)
/// and gives it back when the reply is written or the connection closes; a body that does not fit
/// is answered 503 with `Retry-After`. When a large share of the budget has come back, the C heap is
/// asked to return its free pages (the buffers of a burst of large bodies would otherwise stay
/// resident).
final class BodyBudget: Sendable {
    private struct State {
        var held = 0
        /// The most held since the heap was last trimmed.
        var peak = 0
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
        let trim = state.withLock { state -> Bool in
            state.held -= bytes
            // Back to an eighth of a peak of at least 8 MiB: the burst is over.
            guard state.peak >= 8 << 20, state.held <= state.peak / 8 else { return false }
            state.peak = state.held
            return true
        }
        if trim { swift_ocean_release_free_memory() }
    }
}

import Essentials

/// The request body bytes the whole server holds at once, for requests not yet answered.
///
/// Any client can send a body before anything about it is authenticated (a webhook's signature
/// covers its body), so without a bound, many slow large bodies hold memory without limit. Every
/// loop reserves a body's declared length before reading it (a chunked body as its chunks arrive)
/// and gives it back when the request is answered or the connection closes; a body that does not
/// fit is answered 503 with `Retry-After`. (The heap is not trimmed after a burst: `malloc_trim`
/// holds the allocator's locks while it walks the heap, and stalled the whole process for seconds.
/// What a burst leaves is free memory the allocator reuses, at most this budget.)
final class BodyBudget: Sendable {
    let limit: Int
    private let held = Locked(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes `bytes` from the budget; false (and nothing taken) when they do not fit.
    func reserve(_ bytes: Int) -> Bool {
        held.withLock { held in
            guard bytes <= limit - held else { return false }
            held += bytes
            return true
        }
    }

    /// Gives `bytes` back.
    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        held.withLock { $0 -= bytes }
    }
}

import Essentials

/// Whether the service should receive traffic: what `GET /health/ready` reports.
///
/// It starts `starting`, becomes `ready` once the listener is up, and turns `stopping` as soon as a
/// graceful shutdown begins, so a load balancer stops sending new work before the listener closes.
public final class Readiness: Sendable {
    /// The phases in order.
    public enum Phase: String, Sendable {
        case starting
        case ready
        case stopping
    }

    private let phase = Locked(Phase.starting)

    public init() {}

    /// The current phase.
    public var current: Phase { phase.current }

    /// Moves to `next`; a phase never goes back (a stopping service does not become ready again).
    public func advance(to next: Phase) {
        phase.withLock { current in
            switch (current, next) {
            case (.starting, .ready), (.starting, .stopping), (.ready, .stopping): current = next
            default: break
            }
        }
    }
}

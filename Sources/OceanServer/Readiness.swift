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
    private let storage = Locked<String?>(nil)
    private let startProblems = Locked<[String: String]>([:])

    public init() {}

    /// The current phase.
    public var current: Phase { phase.current }

    /// Why nothing can be stored durably now, if so: the service is then not ready, whatever its
    /// phase (accepting work it cannot keep would lose it).
    public var storageProblem: String? { storage.current }

    /// Records what the last storage check found (nil: writes go through).
    public func storageChecked(_ problem: String?) {
        storage.withLock { $0 = problem }
    }

    /// Start steps that failed and are being retried (a start hook, provisioning Port), by step:
    /// shown on `/health/ready`, which stays ready (resyncs and webhooks still run).
    public var failedStartSteps: [String: String] { startProblems.current }

    /// Records how start step `step` went (nil: it succeeded).
    public func startStep(_ step: String, failed problem: String?) {
        startProblems.withLock { $0[step] = problem }
    }

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

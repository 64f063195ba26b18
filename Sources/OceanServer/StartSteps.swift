import Essentials
import Logging
import ServiceLifecycle

/// The parts of a start that depend on others: provisioning and registering with Port, the
/// integration's start hooks. Each runs once before the service serves; one that fails no longer
/// stops the service (unless `OCEAN__FAIL_ON_START_ERROR`): it is shown on `/health/ready`, logged,
/// and retried with backoff by `run()` while resyncs and webhooks go on.
///
/// Steps come in chains: a step runs only after the one before it in its chain succeeded (a hook
/// may need what the one before set up); chains are independent of each other.
final class StartSteps: Service, CustomStringConvertible {
    struct Step: Sendable {
        /// What `/health/ready` and the log call it (`start hook 1`, `provisioning Port`).
        let name: String
        let run: @Sendable () async throws -> Void
    }

    var description: String { "StartSteps" }

    private let readiness: Readiness
    private let failFast: Bool
    private let redactor: SecretRedactor
    private let logger: Logger
    private let initialBackoff: Duration
    private let maxBackoff: Duration
    /// Per chain, the steps not yet done (the first of each is the one that failed).
    private let pending = Locked<[[Step]]>([])

    init(readiness: Readiness, failFast: Bool, redactor: SecretRedactor, logger: Logger,
         initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(60)) {
        self.readiness = readiness
        self.failFast = failFast
        self.redactor = redactor
        self.logger = logger
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// Runs each chain as far as it goes. With `failFast`, the first failure is thrown (as the
    /// message a user reads); otherwise it is recorded and left for `run()`.
    func start(_ chains: [[Step]]) async throws(StartupError) {
        for chain in chains where !chain.isEmpty {
            let left = await advance(chain, attempt: 1)
            if let failed = left.first, failFast {
                throw StartupError("\(failed.name) failed: \(readiness.failedStartSteps[failed.name] ?? "") (OCEAN__FAIL_ON_START_ERROR is set)")
            }
            if !left.isEmpty { pending.withLock { $0.append(left) } }
        }
    }

    /// Retries what failed, with backoff, until it succeeds or the service shuts down.
    func run() async throws {
        let chains = pending.withLock { chains in
            defer { chains = [] }
            return chains
        }
        guard !chains.isEmpty else { return }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for chain in chains {
                    group.addTask { await self.retry(chain) }
                }
            }
        }
    }

    private func retry(_ chain: [Step]) async {
        var left = chain
        var backoff = initialBackoff
        var attempt = 2
        while !left.isEmpty && !Task.isCancelled {
            do {
                try await Task.sleep(for: backoff)
            } catch {
                return
            }
            left = await advance(left, attempt: attempt)
            attempt += 1
            backoff = min(maxBackoff, backoff * 2)
        }
    }

    /// Runs `chain`'s steps in order until one fails; returns what is left (the failed step first).
    private func advance(_ chain: [Step], attempt: Int) async -> [Step] {
        var left = chain[...]
        while let step = left.first {
            do {
                try await step.run()
                if readiness.failedStartSteps[step.name] != nil {
                    logger.info("start step succeeded on retry", metadata: ["start.step": "\(step.name)", "start.attempt": "\(attempt)"])
                }
                readiness.startStep(step.name, failed: nil)
                left = left.dropFirst()
            } catch {
                let message = redactor.redact("\(error)")
                readiness.startStep(step.name, failed: message)
                logger.error(failFast ? "start step failed" : "start step failed; it will be retried", metadata: [
                    "start.step": "\(step.name)", "start.attempt": "\(attempt)", "error": "\(message)",
                ])
                return Array(left)
            }
        }
        return []
    }
}

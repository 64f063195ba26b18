import OceanKit
import FoundationEssentials
import Logging

extension ResyncCoordinator {
    /// Deletes, per blueprint, the owned entities this job did not write, when `Reconciliation`
    /// says it is safe; records each blueprint's outcome on the job.
    func reconcile(
        _ id: String, mapping: PortAppConfig, ownedBefore: OwnedEntities?, reconciler: any ReconcilingSink, logger: Logger
    ) async {
        guard let job = jobsByID[id] else { return }
        let reconciliation = Reconciliation(progress: job.progress, mapping: mapping, ownedBefore: ownedBefore?.counts)
        var outcomes: [BlueprintReconciliation] = []
        var stale: [String: [String]]?
        var listingError: (any Error)?
        for blueprint in reconciliation.blueprints {
            var outcome = BlueprintReconciliation(
                blueprint: blueprint, ownedBefore: reconciliation.owned(blueprint), upserted: reconciliation.upserted(blueprint))
            defer { outcomes.append(outcome) }
            if case .skip(let reason, let metric) = reconciliation.blocker(for: blueprint) {
                outcome.skipped = reason
                settings.metrics.reconciliationSkipped(reason: metric)
                continue
            }
            do {
                // One listing of what the integration owns serves every blueprint.
                if stale == nil && listingError == nil {
                    do {
                        stale = try await reconciler.staleIdentifiers(
                            blueprints: Set(reconciliation.blueprints), integration: settings.integrationIdentifier, jobID: id,
                            ownedAtStart: ownedBefore ?? OwnedEntities(counts: [:]))
                    } catch {
                        listingError = error
                    }
                }
                if let listingError { throw listingError }
                // An entity a webhook wrote or deleted since the job started is newer than what the
                // job saw: never stale. Claimed until deleted, so a webhook cannot write one of them in between.
                let startedAt = jobsByID[id]?.startedAt ?? now()
                let listed = stale?[blueprint] ?? []
                let claimed = recentChanges?.claim(blueprint: blueprint, identifiers: listed, since: startedAt)
                defer { if let claimed { recentChanges?.release(claimed.claim) } }
                let unchanged = claimed?.identifiers ?? listed
                outcome.stale = unchanged.count
                switch reconciliation.decision(for: blueprint, stale: unchanged) {
                case .skip(let reason, let metric):
                    outcome.skipped = reason
                    settings.metrics.reconciliationSkipped(reason: metric)
                case .delete(let identifiers):
                    guard !identifiers.isEmpty else { continue }
                    outcome.deleted = try await reconciler.delete(
                        blueprint: blueprint, identifiers: identifiers, integration: settings.integrationIdentifier,
                        deleteDependents: mapping.deleteDependentEntities)
                    try? await digests?.forget(integration: settings.integrationIdentifier, blueprint: blueprint, identifiers: identifiers)
                    logger.info("stale entities deleted", metadata: ["blueprint": "\(blueprint)", "count": "\(outcome.deleted)"])
                }
            } catch {
                outcome.skipped = "reconciliation failed: \(error)"
                settings.metrics.reconciliationSkipped(reason: "failed")
                update(id) { $0.error = "reconciliation of \(blueprint) failed: \(error)" }
            }
        }
        update(id) { job in
            job.reconciliation = outcomes
            // A blueprint produced by one resource only: its deletions are that resource's.
            for outcome in outcomes where outcome.deleted > 0 {
                if let position = reconciliation.producer(of: outcome.blueprint) {
                    job.progress[position].deleted += outcome.deleted
                    self.settings.metrics.records(kind: job.progress[position].kind, deleted: outcome.deleted)
                }
            }
        }
    }
}

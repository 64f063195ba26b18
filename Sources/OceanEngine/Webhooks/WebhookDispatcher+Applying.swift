import Essentials
import FoundationEssentials
import OceanKit

/// Applying deliveries: which one is due, running its processors, writing through the mapping.
extension WebhookDispatcher {
    func wakeUp() {
        wakeup.signal()
    }

    /// Takes the due deliveries whose key is free, oldest first. Only the oldest delivery of a key
    /// can start, so a key whose oldest delivery waits for a retry holds the others back (order per
    /// key), while a long backlog of one key never holds back the other keys.
    func takeDue() -> [(id: String, key: String)] {
        guard active.count < settings.concurrency else { return [] }
        let now = Date()
        let heads = waiting.compactMap { key, deliveries -> (key: String, head: Waiting)? in
            guard let head = deliveries.first, !activeKeys.contains(key), head.nextAttemptAt <= now else { return nil }
            return (key, head)
        }.sorted { $0.head.acceptedAt < $1.head.acceptedAt }
        var taken: [(id: String, key: String)] = []
        for (key, head) in heads {
            guard active.count < settings.concurrency else { break }
            activeKeys.insert(key)
            active.insert(head.id)
            taken.append((head.id, key))
        }
        return taken
    }

    /// When the earliest retry of a free key comes due (nil when none waits for one).
    func nextRetryDue() -> Date? {
        guard active.count < settings.concurrency else { return nil }
        return waiting.compactMap { key, deliveries -> Date? in
            guard let head = deliveries.first, !activeKeys.contains(key) else { return nil }
            return head.nextAttemptAt
        }.min()
    }

    func process(id: String, key: String) async {
        let stored: Delivery?
        do {
            stored = try await store.delivery(id)
        } catch {
            logger.error("reading a webhook delivery failed", metadata: ["webhook.delivery": "\(id)", "error": "\(error)"])
            active.remove(id)
            activeKeys.remove(key)
            return
        }
        guard var delivery = stored else {
            // Pruned or gone: nothing to apply.
            finishHead(key: key, id: id, nextAttemptAt: nil)
            active.remove(id)
            activeKeys.remove(key)
            return
        }
        delivery.attempts += 1
        do {
            try await apply(delivery)
            delivery.status = .done
            delivery.appliedAt = Date()
            delivery.lastError = nil
            tallies.withLock { $0.processed += 1 }
            let latency = delivery.appliedAt!.timeIntervalSince(delivery.acceptedAt)
            settings.metrics.webhookApplied(after: .microseconds(Int64(latency * 1_000_000)))
        } catch {
            let policy = integration.webhookProcessors(for: delivery.path).first?.retryPolicy ?? WebhookRetryPolicy()
            delivery.lastError = String(settings.redactor.redact("\(error)").prefix(500))
            if delivery.attempts >= policy.maxAttempts {
                delivery.status = .dead
                tallies.withLock { $0.dead += 1 }
                settings.metrics.webhook("dead")
                logger.warning("webhook delivery is dead", metadata: ["webhook.delivery": "\(delivery.id)", "error": "\(error)"])
            } else {
                delivery.status = .failed
                delivery.nextAttemptAt = Date().addingTimeInterval(Double(policy.delay(afterAttempt: delivery.attempts) / .milliseconds(1)) / 1000)
                tallies.withLock { $0.retried += 1 }
                settings.metrics.webhook("retried")
            }
        }
        do {
            try await store.update(delivery)
            if delivery.status == .done && counters.processed % 500 == 0 {
                try await store.prune(keepFinished: settings.keepFinished)
            }
        } catch {
            logger.error("recording a webhook delivery failed", metadata: ["webhook.delivery": "\(delivery.id)", "error": "\(error)"])
        }
        finishHead(key: key, id: id, nextAttemptAt: delivery.status == .failed ? delivery.nextAttemptAt : nil)
        active.remove(id)
        activeKeys.remove(key)
        wakeUp()
    }

    /// Done or dead: the key's next delivery moves up. Failed: the head waits until `nextAttemptAt`.
    private func finishHead(key: String, id: String, nextAttemptAt: Date?) {
        guard var deliveries = waiting[key], let index = deliveries.firstIndex(where: { $0.id == id }) else { return }
        if let nextAttemptAt {
            deliveries[index].nextAttemptAt = nextAttemptAt
        } else {
            deliveries.remove(at: index)
            queued -= 1
        }
        waiting[key] = deliveries.isEmpty ? nil : deliveries
    }

    /// Runs the processors for the delivery and writes their results through the kinds' mappings.
    private func apply(_ delivery: Delivery) async throws {
        let payload = try JSONDecoder().decode(JSON.self, from: Data(delivery.body))
        let event = WebhookEvent(path: delivery.path, headers: delivery.headers, rawBody: delivery.body, payload: payload)
        let mapping = try await mappingSource.currentMapping()
        let (plan, issues) = await pool.plan(for: mapping)
        guard issues.isEmpty else {
            throw WebhookError(.invalidPayload, "the mapping is invalid: \(issues.map(\.description).joined(separator: "; "))")
        }
        for processor in integration.webhookProcessors(for: delivery.path) where processor.shouldProcess(event) {
            for kind in processor.matchingKinds(event) {
                for (index, resource) in mapping.resources(ofKind: kind) {
                    let results = try await processor.handle(event, resource: resource)
                    try await write(results, resourceIndex: index, mapping: mapping, plan: plan, delivery: delivery)
                }
            }
        }
    }

    private func write(_ results: WebhookResults, resourceIndex: Int, mapping: PortAppConfig, plan: MappingPlan, delivery: Delivery) async throws {
        // Updated records that pass the selector are upserted; the entities of those that do not, and
        // of deleted records, are deleted.
        let selected = await pool.map(results.updated.recordBatch(), plan: plan, resources: [resourceIndex])
        let everything = await pool.map((results.updated + results.deleted).recordBatch(), plan: plan, resources: [resourceIndex],
                                        selectors: .ignore)
        if selected.failed > 0 || everything.failed > 0 {
            let problem = (selected.problems + everything.problems).first.map(\.description) ?? "a record could not be mapped"
            throw WebhookError(.invalidPayload, "mapping the delivery's records failed: \(problem)")
        }
        let upserting = Set(selected.entities.map { MappedKey($0.blueprint, $0.identifier) })
        let deleting = everything.entities.filter { !upserting.contains(MappedKey($0.blueprint, $0.identifier)) }
        // Marked before the write: a running resync leaves these alone from now on, and a resync
        // write already under way on them finishes first (ours lands after it).
        await recentChanges.markChanging((selected.entities + deleting).map { (blueprint: $0.blueprint, identifier: $0.identifier) }, at: Date())
        if !selected.entities.isEmpty {
            let options = UpsertOptions(merge: mapping.enableMergeEntity, createMissingRelatedEntities: mapping.createMissingRelatedEntities,
                                        integrationIdentifier: settings.integrationIdentifier, jobID: "webhook:\(delivery.id)",
                                        tracksWrites: false)
            let outcome = try await sink.upsert(selected.entities, options: options)
            if let failure = outcome.failures.first {
                throw WebhookError(.invalidPayload, "the destination refused \(failure.identifier): \(failure.message)")
            }
            // What a resync maps the same is then not sent again.
            if let digests, let resource = mapping.resources.indices.contains(resourceIndex) ? mapping.resources[resourceIndex] : nil {
                let writer = EntityDigest.writerDigest(of: resource, in: mapping) + "@" + sink.destinationIdentity
                var byBlueprint: [String: [(identifier: String, digest: String)]] = [:]
                for entity in selected.entities where !entity.identifier.hasPrefix("{") {
                    byBlueprint[entity.blueprint, default: []].append((entity.identifier, EntityDigest.of(entity, writer: writer)))
                }
                for (blueprint, entries) in byBlueprint {
                    try? await digests.record(integration: settings.integrationIdentifier, blueprint: blueprint, digests: entries)
                }
            }
        }
        var byBlueprint: [String: [String]] = [:]
        for entity in deleting { byBlueprint[entity.blueprint, default: []].append(entity.identifier) }
        for (blueprint, identifiers) in byBlueprint {
            _ = try await sink.delete(blueprint: blueprint, identifiers: identifiers, integration: settings.integrationIdentifier,
                                      deleteDependents: mapping.deleteDependentEntities)
            try? await digests?.forget(integration: settings.integrationIdentifier, blueprint: blueprint, identifiers: identifiers)
        }
    }
}

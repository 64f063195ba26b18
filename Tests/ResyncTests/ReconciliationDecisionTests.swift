import OceanEngine
import OceanKit
import Testing

/// `Reconciliation` alone: the facts in, the decisions out; no coordinator, no store.
@Suite("Reconciliation decisions")
struct ReconciliationDecisionTests {
    static let mapping = """
        resources:
          - kind: a
            selector: {query: 'true'}
            port: {entity: {mappings: {identifier: .id, blueprint: '"a"'}}}
          - kind: b
            selector: {query: 'true'}
            port: {entity: {mappings: {identifier: .id, blueprint: '"shared"'}}}
          - kind: c
            selector: {query: 'true'}
            port: {entity: {mappings: {identifier: .id, blueprint: '"shared"'}}}
          - kind: d
            selector: {query: 'true'}
            port: {entity: {mappings: {identifier: .id, blueprint: .type}}}
        """

    static func progress(_ index: Int, _ kind: String, _ status: ResourceProgress.Status = .succeeded,
                         failed: Int = 0, wrote blueprints: [String: Int] = [:]) -> ResourceProgress {
        var progress = ResourceProgress(kind: kind, resourceIndex: index)
        progress.status = status
        progress.failed = failed
        progress.blueprints = blueprints
        return progress
    }

    @Test("a clean job deletes the stale entities of what it wrote; the threshold protects against mass deletion")
    func cleanJob() throws {
        var mapping = try PortAppConfig.parse(Self.mapping).config
        mapping.entityDeletionThreshold = 0.5
        let job = [Self.progress(0, "a", wrote: ["a": 6]), Self.progress(1, "b", wrote: ["shared": 2]),
                   Self.progress(2, "c"), Self.progress(3, "d", wrote: ["x": 1])]
        let reconciliation = Reconciliation(progress: job, mapping: mapping, ownedBefore: ["a": 10, "shared": 4])
        #expect(reconciliation.blueprints == ["a", "shared", "x"])
        #expect(reconciliation.upserted("a") == 6)
        #expect(reconciliation.decision(for: "a", stale: ["a-7", "a-8", "a-9", "a-10"]) == .delete(["a-7", "a-8", "a-9", "a-10"]))
        guard case .skip(let reason, "threshold") = reconciliation.decision(for: "a", stale: (0..<6).map { "a-\($0)" }) else {
            Issue.record("6 of 10 stale passed a threshold of 0.5")
            return
        }
        #expect(reason.contains("6 of 10 owned entities are stale"))
        // Nothing owned before: whatever is stale now was not there when the job started.
        #expect(reconciliation.decision(for: "x", stale: []) == .delete([]))
        // Two resources produce "shared": its deletions are no single resource's.
        #expect(reconciliation.producer(of: "shared") == nil)
        #expect(reconciliation.producer(of: "a") == 0)
    }

    @Test("a blueprint is left alone when a resource that produces it, or might, failed or did not run")
    func uncleanJob() throws {
        let mapping = try PortAppConfig.parse(Self.mapping).config
        let job = [Self.progress(0, "a", failed: 1, wrote: ["a": 5]), Self.progress(1, "b", wrote: ["shared": 2]),
                   Self.progress(3, "d")]
        let reconciliation = Reconciliation(progress: job, mapping: mapping, ownedBefore: ["a": 5, "shared": 4])
        // d computes its blueprint: it might produce any of them, and it ran cleanly; c did not run.
        #expect(reconciliation.blocker(for: "a") == .skip(
            reason: "not every resource producing it finished cleanly: kind a had 1 failed record", metric: "unclean"))
        #expect(reconciliation.blocker(for: "shared") == .skip(
            reason: "not every resource producing it finished cleanly: kind c (resources[2]) was not part of this job", metric: "unclean"))
        let failedD = Reconciliation(progress: [Self.progress(0, "a", wrote: ["a": 5]), Self.progress(3, "d", .failed)],
                                     mapping: mapping, ownedBefore: ["a": 5])
        #expect(failedD.decision(for: "a", stale: ["old"]) == .skip(
            reason: "not every resource producing it finished cleanly: kind d failed", metric: "unclean"))
    }

    @Test("when what was owned could not be read, nothing is deleted")
    func unknownOwnership() throws {
        let mapping = try PortAppConfig.parse(Self.mapping).config
        let reconciliation = Reconciliation(progress: [Self.progress(0, "a", wrote: ["a": 1])], mapping: mapping, ownedBefore: nil)
        #expect(reconciliation.decision(for: "a", stale: ["old"]) == .skip(
            reason: "what the integration owned before the job could not be read", metric: "unknown"))
    }
}

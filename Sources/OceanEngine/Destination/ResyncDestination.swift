/// Where a job writes, and whether it can reconcile there: a destination that can list what an
/// integration owns and delete what went stale (the catalog, Port) or one that only takes writes.
public enum ResyncDestination: Sendable {
    /// Writes only: no job deletes anything.
    case writeOnly(any EntitySink)
    /// Writes, and after a clean job deletes the owned entities the job did not write.
    case reconciling(any ReconcilingSink)

    /// Where entities are written.
    public var sink: any EntitySink {
        switch self {
        case .writeOnly(let sink): sink
        case .reconciling(let sink): sink
        }
    }

    /// The destination's reconciling side, when it has one.
    public var reconciler: (any ReconcilingSink)? {
        switch self {
        case .writeOnly: nil
        case .reconciling(let sink): sink
        }
    }
}

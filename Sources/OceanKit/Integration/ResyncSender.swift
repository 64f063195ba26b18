/// What a push-form resync handler sends its batches through.
///
/// Calling it hands one batch to the pipeline and returns once the pipeline has taken it: while
/// the batches before it are being mapped and written, the handler waits, so it never fetches
/// faster than the destination takes entities. It throws `CancellationError` once the job is
/// cancelled (the handler then stops), and the pipeline's own failures.
public struct ResyncSender {
    private let consume: OceanIntegration.BatchConsumer

    init(_ consume: @escaping OceanIntegration.BatchConsumer) {
        self.consume = consume
    }

    /// Sends one batch: `[JSON]` records, or a `RecordBatch` of records that arrive as JSON text.
    public func callAsFunction<Records: ResyncRecords>(_ records: Records) async throws {
        try await consume(records.recordBatch())
    }
}

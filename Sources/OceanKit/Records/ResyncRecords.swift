/// What a resync handler may yield as one batch: raw records of the third-party API.
///
/// `[JSON]` is the natural form; `RecordBatch` (raw JSON texts side by side) skips building `JSON`
/// values when the records already arrive as text (files, HTTP bodies).
public protocol ResyncRecords: Sendable {
    /// The batch as JSON texts.
    func recordBatch() -> RecordBatch
}

extension Array: ResyncRecords where Element == JSON {
    public func recordBatch() -> RecordBatch {
        var batch = RecordBatch()
        batch.bytes.reserveCapacity(count * 256)
        for (index, record) in enumerated() {
            let start = batch.bytes.count
            record.write(to: &batch.bytes)
            batch.ranges.append(start..<batch.bytes.count)
            batch.indexes.append(index)
        }
        return batch
    }
}

extension RecordBatch: ResyncRecords {
    public func recordBatch() -> RecordBatch { self }
}

extension RecordBatch {
    /// Numbers the records from `start` on (their position in the resource's whole stream).
    public mutating func renumber(from start: Int) {
        for position in indexes.indices { indexes[position] = start + position }
        problems = problems.map {
            MappingProblem(kind: $0.kind, recordIndex: start + $0.recordIndex, itemIndex: $0.itemIndex,
                           resourceIndex: $0.resourceIndex, resourceKind: $0.resourceKind, field: $0.field, message: $0.message)
        }
    }
}



/// A run of raw records: their bytes side by side and where each one is. Sendable, so it can be
/// handed to a worker thread.
public struct RecordBatch: Sendable {
    public var bytes: [UInt8] = []
    public var ranges: [Range<Int>] = []
    /// Each record's position in the input (0-based).
    public var indexes: [Int] = []
    /// Problems found while splitting (truncated or malformed input), by record index.
    public var problems: [MappingProblem] = []

    public init() {}

    public var count: Int { ranges.count }

    mutating func append(_ record: some Collection<UInt8>, index: Int) {
        let start = bytes.count
        bytes.append(contentsOf: record)
        ranges.append(start..<bytes.count)
        indexes.append(index)
    }
}

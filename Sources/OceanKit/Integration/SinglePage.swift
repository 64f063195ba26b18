/// A handler's output when everything comes in one page.
///
/// ```swift
/// ocean.onResync(ObjectKind.team) { _ in SinglePage(records: try await client.allTeams()) }
/// ```
public struct SinglePage<Batch: ResyncRecords>: AsyncSequence, Sendable {
    public typealias Element = Batch
    public let records: Batch

    public init(records: Batch) {
        self.records = records
    }

    public func makeAsyncIterator() -> Iterator { Iterator(records: records) }

    public struct Iterator: AsyncIteratorProtocol {
        var records: Batch?

        public mutating func next() async -> Batch? {
            defer { records = nil }
            return records
        }
    }
}

/// The pages of a paginated endpoint, fetched one at a time as they are taken.
public struct Paginated<Page: Sendable>: AsyncSequence, Sendable {
    let fetch: @Sendable (String?) async throws -> (page: Page, next: String?)

    public func makeAsyncIterator() -> Iterator { Iterator(fetch: fetch) }

    public struct Iterator: AsyncIteratorProtocol {
        let fetch: @Sendable (String?) async throws -> (page: Page, next: String?)
        var cursor: String?
        var finished = false

        public mutating func next() async throws -> Page? {
            guard !finished else { return nil }
            try Task.checkCancellation()
            let (page, next) = try await fetch(cursor)
            cursor = next
            finished = next == nil
            return page
        }
    }
}

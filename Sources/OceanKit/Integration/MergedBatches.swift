import AsyncAlgorithms

/// Merges several sequences into one, pulling from all of them concurrently: Ocean's
/// `stream_async_iterators_tasks`, for a handler that fetches the pages of many spaces at once.
///
/// Back-pressured: a producer waits until its element is taken, so at most one element per
/// sequence is held. When the consumer stops (or is cancelled), the producers are cancelled.
///
/// ```swift
/// ocean.onResync { kind, context in
///     mergeBatches(spaces.map { space in client.pages(kind: kind, space: space) })
/// }
/// ```
public func mergeBatches<Base: AsyncSequence & Sendable>(_ sequences: [Base]) -> MergedBatches<Base> where Base.Element: Sendable {
    MergedBatches(sequences: sequences)
}

public struct MergedBatches<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element: Sendable {
    public typealias Element = Base.Element
    let sequences: [Base]

    public func makeAsyncIterator() -> Iterator {
        Iterator(sequences: sequences)
    }

    /// Starts the producers on the first `next()` and cancels them when it is released.
    public final class Iterator: AsyncIteratorProtocol {
        private let channel = AsyncThrowingChannel<Element, any Error>()
        private var channelIterator: AsyncThrowingChannel<Element, any Error>.Iterator
        private var producers: Task<Void, Never>?
        private let sequences: [Base]

        init(sequences: [Base]) {
            self.sequences = sequences
            channelIterator = channel.makeAsyncIterator()
        }

        deinit {
            producers?.cancel()
        }

        public func next() async throws -> Element? {
            if producers == nil {
                let channel = self.channel
                let sequences = self.sequences
                producers = Task {
                    do {
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for sequence in sequences {
                                group.addTask {
                                    for try await element in sequence {
                                        await channel.send(element)
                                    }
                                }
                            }
                            try await group.waitForAll()
                        }
                        channel.finish()
                    } catch {
                        channel.fail(error)
                    }
                }
            }
            return try await channelIterator.next()
        }
    }
}

/// Splits a stream of bytes into JSON records without parsing them: either one JSON array of
/// records (`[{...}, {...}]`) or newline-delimited JSON (one record a line), told apart by the first
/// non-blank byte. Memory stays at one batch plus one partial record, whatever the input size.
public struct RecordSplitter {
    private enum Mode { case undecided, lines, array, arrayDone, ignoringRest }

    private var mode = Mode.undecided
    private var buffer: [UInt8] = []
    /// Where the scan stopped in `buffer` (array mode keeps its string/depth state across chunks).
    private var scanned = 0
    private var recordStart: Int?
    private var nesting = JSONNesting()
    /// A `,` was seen at the array's top level (so `[1,]` has an empty last element, `[]` does not).
    private var sawSeparator = false
    private var nextIndex = 0
    private var pending: RecordBatch
    private let batchSize: Int

    /// `batchSize` records per batch (the last one may be smaller).
    public init(batchSize: Int = 256) {
        self.batchSize = max(1, batchSize)
        pending = RecordBatch()
    }

    /// Feeds the next chunk; returns the batches it completed.
    public mutating func feed(_ chunk: some Collection<UInt8>) -> [RecordBatch] {
        buffer.append(contentsOf: chunk)
        var batches: [RecordBatch] = []
        scan(into: &batches, atEnd: false)
        compact()
        return batches
    }

    /// Ends the input; returns the last batches, with a problem for a truncated last record.
    public mutating func finish() -> [RecordBatch] {
        var batches: [RecordBatch] = []
        scan(into: &batches, atEnd: true)
        switch mode {
        case .lines:
            if scanned < buffer.count {
                let line = trimmed(buffer[scanned...])
                if !line.isEmpty { emit(line, into: &batches) }
            }
        case .array:
            let rest = recordStart.map { trimmed(buffer[$0...]) } ?? []
            if rest.isEmpty {
                report("the input ends before the array's closing ]", into: &batches, consumesIndex: false)
            } else if nesting.depth == 1 && !nesting.inString {
                // The last element is whole; only the closing bracket is missing.
                emit(rest, into: &batches)
                report("the input ends before the array's closing ]", into: &batches, consumesIndex: false)
            } else {
                report("the input ends inside this record (the array is not closed)", into: &batches)
            }
        case .undecided, .arrayDone, .ignoringRest:
            break
        }
        buffer.removeAll()
        scanned = 0
        if pending.count > 0 || !pending.problems.isEmpty {
            batches.append(pending)
            pending = RecordBatch()
        }
        return batches
    }

    private mutating func scan(into batches: inout [RecordBatch], atEnd: Bool) {
        while scanned < buffer.count {
            switch mode {
            case .undecided:
                let byte = buffer[scanned]
                if isBlank(byte) {
                    scanned += 1
                } else if byte == UInt8(ascii: "[") {
                    mode = .array
                    nesting.depth = 1
                    scanned += 1
                    recordStart = scanned
                } else {
                    mode = .lines
                    recordStart = scanned
                }
            case .lines:
                guard let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) else {
                    return  // wait for the rest of the line (or finish())
                }
                let line = trimmed(buffer[scanned..<newline])
                if !line.isEmpty { emit(line, into: &batches) }
                scanned = newline + 1
            case .array:
                scanArray(into: &batches)
            case .arrayDone:
                if !isBlank(buffer[scanned]) {
                    report("unexpected data after the closing ] of the array (ignored)", into: &batches, consumesIndex: false)
                    mode = .ignoringRest
                }
                scanned += 1
            case .ignoringRest:
                scanned = buffer.count
            }
        }
    }

    private mutating func scanArray(into batches: inout [RecordBatch]) {
        while scanned < buffer.count {
            switch nesting.step(buffer[scanned]) {
            case .closed where nesting.depth == 0:
                endElement(at: scanned, into: &batches, last: true)
                scanned += 1
                mode = .arrayDone
                return
            case .separator where nesting.depth == 1:
                sawSeparator = true
                endElement(at: scanned, into: &batches, last: false)
                scanned += 1
                recordStart = scanned
                continue
            case .none, .opened, .closed, .separator:
                break
            }
            scanned += 1
        }
    }

    private mutating func endElement(at end: Int, into batches: inout [RecordBatch], last: Bool) {
        guard let start = recordStart else { return }
        recordStart = nil
        let element = trimmed(buffer[start..<end])
        if !element.isEmpty {
            emit(element, into: &batches)
        } else if !last || sawSeparator {
            // `[1,,2]` or `[1,]`; a plain `[]` is just an empty input.
            report("an empty element in the array (a stray comma)", into: &batches)
        }
    }

    private mutating func emit(_ record: ArraySlice<UInt8>, into batches: inout [RecordBatch]) {
        pending.append(record, index: nextIndex)
        nextIndex += 1
        if pending.count >= batchSize {
            batches.append(pending)
            pending = RecordBatch()
        }
    }

    /// Records a problem; it takes a record index (an unreadable record) unless told otherwise, so
    /// later records keep the indexes a reader of the input would count.
    private mutating func report(_ message: String, into batches: inout [RecordBatch], consumesIndex: Bool = true) {
        pending.problems.append(MappingProblem(
            kind: .invalidRecord, recordIndex: nextIndex, itemIndex: nil, resourceIndex: nil, resourceKind: nil,
            field: nil, message: message))
        if consumesIndex { nextIndex += 1 }
    }

    /// Drops consumed bytes so the buffer holds at most the partial record.
    private mutating func compact() {
        let keepFrom: Int
        switch mode {
        case .array: keepFrom = recordStart ?? scanned
        case .lines: keepFrom = scanned
        case .undecided, .arrayDone, .ignoringRest: keepFrom = scanned
        }
        guard keepFrom > 0 else { return }
        buffer.removeFirst(keepFrom)
        scanned -= keepFrom
        if let start = recordStart { recordStart = start - keepFrom }
    }

    private func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private func trimmed(_ slice: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = slice
        while let first = slice.first, isBlank(first) { slice.removeFirst() }
        while let last = slice.last, isBlank(last) { slice.removeLast() }
        return slice
    }
}

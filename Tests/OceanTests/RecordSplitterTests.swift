import OceanKit
import OceanEngine
import Testing

@Suite("Record splitter (NDJSON and JSON arrays)")
struct RecordSplitterTests {
    /// Feeds `input` in chunks of `chunk` bytes and returns each record's text and index, and the problems.
    func split(_ input: String, chunk: Int, batchSize: Int = 2) -> (records: [(Int, String)], problems: [MappingProblem]) {
        var splitter = RecordSplitter(batchSize: batchSize)
        var batches: [RecordBatch] = []
        let bytes = Array(input.utf8)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            batches += splitter.feed(bytes[offset..<end])
            offset = end
        }
        batches += splitter.finish()
        var records: [(Int, String)] = []
        var problems: [MappingProblem] = []
        for batch in batches {
            for (position, range) in batch.ranges.enumerated() {
                records.append((batch.indexes[position], String(decoding: batch.bytes[range], as: UTF8.self)))
            }
            problems += batch.problems
        }
        return (records, problems)
    }

    @Test("NDJSON and arrays split the same at any chunk size", arguments: [1, 2, 3, 7, 64, 4096])
    func chunked(chunk: Int) {
        let expected = [#"{"a":1}"#, #"{"b":"x,]}\"y"}"#, #"{"c":[1,{"d":2}]}"#]
        let ndjson = split(expected.joined(separator: "\n") + "\n", chunk: chunk)
        #expect(ndjson.records.map(\.1) == expected)
        #expect(ndjson.records.map(\.0) == [0, 1, 2])
        let array = split(" [ " + expected.joined(separator: " ,\n ") + " ] \n", chunk: chunk)
        #expect(array.records.map(\.1) == expected)
        #expect(array.problems.isEmpty)
    }

    @Test("blank lines, CRLF and a missing final newline are fine in NDJSON")
    func lines() {
        let result = split("\n{\"a\":1}\r\n\n  \n{\"b\":2}", chunk: 5)
        #expect(result.records.map(\.1) == [#"{"a":1}"#, #"{"b":2}"#])
        #expect(result.problems.isEmpty)
    }

    @Test("empty inputs give nothing", arguments: ["", "  \n", "[]", " [ ] "])
    func empty(input: String) {
        let result = split(input, chunk: 3)
        #expect(result.records.isEmpty)
        #expect(result.problems.isEmpty)
    }

    @Test("broken arrays are reported with the record index", arguments: [
        (#"[{"a":1},{"b":"#, 1, "ends inside"),
        (#"[{"a":1}"#, 1, "closing ]"),
        (#"[{"a":1},,{"b":2}]"#, 1, "empty element"),
        (#"[{"a":1},]"#, 1, "empty element"),
        (#"[{"a":1}] trailing"#, 1, "after the closing ]"),
    ])
    func brokenArrays(input: String, problemIndex: Int, mentions: String) {
        let result = split(input, chunk: 4)
        #expect(result.records.first?.1 == #"{"a":1}"#)
        #expect(result.problems.count == 1)
        #expect(result.problems.first?.recordIndex == problemIndex)
        #expect(result.problems.first?.message.contains(mentions) == true, "\(result.problems)")
    }

    @Test("a hole keeps the indexes of the records after it")
    func indexesAfterHole() {
        let result = split(#"[{"a":1},,{"b":2}]"#, chunk: 100)
        #expect(result.records.map(\.0) == [0, 2])
    }
}

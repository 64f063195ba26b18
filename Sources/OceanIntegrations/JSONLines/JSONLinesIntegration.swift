import Foundation
public import OceanKit

/// The `jsonl` integration: each `<kind>.jsonl` (NDJSON) or `<kind>.json` (a JSON array) file in the
/// folder `OCEAN__INTEGRATION__CONFIG__PATH` is a kind; records are streamed in batches of
/// `OCEAN__INTEGRATION__CONFIG__BATCH_SIZE` (default 1000) without being held in memory at once.
/// For importing exports and testing a mapping end to end.
public enum JSONLinesIntegration {
    public static func make() -> OceanIntegration {
        let ocean = OceanIntegration(type: "jsonl", defaultMapping: defaultMapping, spec: spec,
                                     resources: PortResources(blueprints: blueprints))
        ocean.onResync { kind, context in
            let folder = try context.integrationConfig.requiredString("path")
            let batchSize = try context.integrationConfig.int("batch_size", default: 1000, in: 1...1_000_000)
            return try RecordFile(path: try file(for: kind, in: folder), batchSize: batchSize)
        }
        return ocean
    }

    /// The file that holds `kind`'s records.
    static func file(for kind: String, in folder: String) throws -> String {
        guard !kind.contains("/"), !kind.hasPrefix(".") else {
            throw ConfigurationError(path: "kind", "\"\(kind)\" cannot name a file")
        }
        for suffix in [".jsonl", ".json"] {
            let path = URL(fileURLWithPath: folder).appendingPathComponent(kind + suffix).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw ConfigurationError(path: IntegrationConfig.variableName("path"), "has no \(kind).jsonl or \(kind).json (in \(folder))")
    }

    /// The blueprints it creates in a Port organisation that has none of them (the same text as
    /// `.port/resources/blueprints.json`; a test keeps them equal).
    public static let blueprints = """
        [
          {
            "identifier": "item",
            "title": "Item",
            "icon": "Blueprint",
            "schema": {
              "properties": {
                "data": {"type": "object", "title": "Record"}
              },
              "required": []
            },
            "relations": {}
          }
        ]

        """

    /// The default mapping (the same text as `.port/resources/port-app-config.yml`, less its comment).
    public static let defaultMapping = """
        resources:
          - kind: items
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: .id | if . == null then null else tostring end
                  title: (.title // .name // (.id | tostring))
                  blueprint: '"item"'
                  properties:
                    data: .

        """
}

/// A file's records, read in chunks and split without parsing, `batchSize` records a batch.
struct RecordFile: AsyncSequence, Sendable {
    typealias Element = RecordBatch
    let path: String
    let batchSize: Int

    init(path: String, batchSize: Int) throws {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConfigurationError(path: path, "cannot be read")
        }
        self.path = path
        self.batchSize = batchSize
    }

    func makeAsyncIterator() -> Iterator { Iterator(path: path, batchSize: batchSize) }

    final class Iterator: AsyncIteratorProtocol {
        private let handle: FileHandle?
        private var splitter: RecordSplitter
        private var ready: [RecordBatch] = []
        private var finished = false

        init(path: String, batchSize: Int) {
            handle = FileHandle(forReadingAtPath: path)
            splitter = RecordSplitter(batchSize: batchSize)
        }

        deinit { try? handle?.close() }

        func next() async throws -> RecordBatch? {
            while ready.isEmpty && !finished {
                try Task.checkCancellation()
                guard let handle else { throw ConfigurationError(path: "", "the file could not be opened") }
                let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
                if chunk.isEmpty {
                    ready += splitter.finish()
                    finished = true
                } else {
                    ready += splitter.feed(chunk)
                }
            }
            return ready.isEmpty ? nil : ready.removeFirst()
        }
    }
}

extension JSONLinesIntegration {
    /// The spec (the same text as `.port/spec.yaml`; a test keeps them equal).
    public static let spec = """
        type: jsonl
        description: Imports records from files, one kind per file (<kind>.jsonl, NDJSON, or <kind>.json, a JSON array).
        features:
          - type: exporter
            section: Other
        configurations:
          - name: path
            type: string
            required: true
            description: The folder holding the <kind>.jsonl / <kind>.json files.
          - name: batchSize
            type: integer
            required: false
            default: 1000
            description: Records per batch.

        """
}

import Foundation
import OceanKit
import OceanEngine
import OceanCatalog
import Testing

@Suite("Embedded catalog")
struct CatalogStoreTests {
    func entity(_ identifier: String, _ json: String) -> MappedEntity {
        MappedEntity(resourceIndex: 0, blueprint: "service", identifier: identifier, json: Array(json.utf8))
    }

    func properties(_ catalog: CatalogStore, _ identifier: String) async throws -> [String: Any] {
        let texts = try await catalog.entities(blueprint: "service", limit: 10)
        let entities = try texts.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let entity = try #require(entities.first { $0["identifier"] as? String == identifier })
        return try #require(entity["properties"] as? [String: Any])
    }

    @Test("enableMergeEntity merges properties into the stored entity; without it they are replaced")
    func merge() async throws {
        let catalog = try temporaryCatalog()
        let first = #"{"identifier":"a","title":"A","blueprint":"service","properties":{"x":1,"y":2},"relations":{"owner":"o1"}}"#
        let second = #"{"identifier":"a","title":"A2","blueprint":"service","properties":{"y":3},"relations":{}}"#
        let options = UpsertOptions(merge: true, createMissingRelatedEntities: true, integrationIdentifier: "test", jobID: "job_1")
        _ = try await catalog.upsert([entity("a", first)], options: options)
        _ = try await catalog.upsert([entity("a", second)], options: options)
        let merged = try await properties(catalog, "a")
        #expect(merged["x"] as? Int == 1)
        #expect(merged["y"] as? Int == 3)

        var replace = options
        replace.merge = false
        _ = try await catalog.upsert([entity("a", second)], options: replace)
        let replaced = try await properties(catalog, "a")
        #expect(replaced["x"] == nil)
        #expect(replaced["y"] as? Int == 3)
        #expect(try await catalog.entityCount() == 1)
    }

    @Test("readers are not blocked while a batch is being written")
    func concurrentReaders() async throws {
        let catalog = try temporaryCatalog()
        let options = UpsertOptions(merge: false, createMissingRelatedEntities: true, integrationIdentifier: "test", jobID: "job_1")
        let bio = String(repeating: "b", count: 2000)
        let batch = (0..<20_000).map { entity("e\($0)", #"{"identifier":"e\#($0)","blueprint":"service","properties":{"bio":"\#(bio)"}}"#) }
        let done = Flag()
        let writer = Task {
            let outcome = try await catalog.upsert(batch, options: options)
            await done.set()
            return outcome
        }
        // Reads while the one big transaction is open: each sees the state before it, at once.
        var readsDuringWrite = 0
        while await !done.value {
            let count = try await catalog.entityCount()
            // A batch is one transaction: a reader sees none of it or all of it, never a part.
            #expect(count == 0 || count == 20_000)
            if count == 0 { readsDuringWrite += 1 }
        }
        _ = try await writer.value
        #expect(readsDuringWrite > 0)
        #expect(try await catalog.entityCount() == 20_000)
    }
}

actor Flag {
    private(set) var value = false
    func set() { value = true }
}

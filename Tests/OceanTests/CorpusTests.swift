import Foundation
import JQ
import OceanKit
import OceanEngine
import Testing
import TestSupport

/// The 50 default mappings of Ocean's own integrations (../shared/compat/ocean-mappings): every
/// file loads and every expression compiles, except text that is not jq, refused as such.
@Suite("Real-world corpus: Ocean's default mappings")
struct CorpusTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/compat/ocean-mappings")
    static let available = FileManager.default.fileExists(atPath: directory.path)

    @Test("every mapping loads and every expression compiles", .enabled(if: available, "../shared/compat/ocean-mappings is not beside the repository"))
    func corpus() async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".yml") }.sorted()
        #expect(files.count == 50)
        // Compiled on threads of their own (dispatch's, one a core): 50 mappings would hold the
        // cooperative pool's threads for seconds, and the servers of the suites beside this one need them.
        let outcomes = try await onThread { () -> [(String, Int, [MappingIssue])] in
            var results = [Result<(String, Int, [MappingIssue]), any Error>?](repeating: nil, count: files.count)
            results.withUnsafeMutableBufferPointer { buffer in
                // Each iteration writes its own slot only.
                nonisolated(unsafe) let slots = buffer
                DispatchQueue.concurrentPerform(iterations: files.count) { index in
                    slots[index] = Result {
                        let text = try String(contentsOf: Self.directory.appendingPathComponent(files[index]), encoding: .utf8)
                        let (config, _) = try PortAppConfig.parse(text)
                        let (plan, issues) = MappingPlan.build(config)
                        return (files[index], plan.expressionCount, issues)
                    }
                }
            }
            return try results.map { try $0!.get() }
        }
        let expressions = outcomes.reduce(0) { $0 + $1.1 }
        #expect(expressions > 2500, "only \(expressions) expressions")
        for (file, _, issues) in outcomes {
            if file == "gitlab.yml" {
                // GitLab's `file://README.md` is that integration's own file reference, not jq.
                #expect(issues.count == 1)
                #expect(issues.first?.code == .notJQ)
                #expect(issues.first?.field == "properties.readme")
                #expect(issues.first?.message.contains("file reference") == true)
            } else {
                #expect(issues.isEmpty, "\(file): \(issues)")
            }
        }
    }

    @Test("a corpus mapping maps a record end to end", .enabled(if: available, "../shared/compat/ocean-mappings is not beside the repository"))
    func mapsARecord() throws {
        let text = try String(contentsOf: Self.directory.appendingPathComponent("fake-integration.yml"), encoding: .utf8)
        let (config, _) = try PortAppConfig.parse(text)
        let (plan, issues) = MappingPlan.build(config)
        #expect(issues.isEmpty)
        let mapper = EntityMapper(plan: plan)
        var result = MappingResult()
        let record = #"{"id":"d1-1","name":"Ann","email":"a@x","age":30,"status":"WORKING","bio":"b","department":{"id":"d1","name":"R&D"}}"#
        Array(record.utf8).withUnsafeBytes {
            mapper.map(recordBytes: $0, recordIndex: 0, resources: plan.resourceIndexes(ofKind: "fake-person"), into: &result)
        }
        #expect(result.problems.isEmpty)
        let entity = try #require(result.entities.first)
        #expect(entity.blueprint == "fake-person")
        #expect(entity.identifier == "d1-1")
        #expect(String(decoding: entity.json, as: UTF8.self).contains(#""relations":{"department":"d1"}"#))
    }
}

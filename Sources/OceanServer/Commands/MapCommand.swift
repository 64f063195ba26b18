import ArgumentParser
import Foundation
import OceanKit
import OceanEngine

#if canImport(Glibc)
import Glibc
#endif

/// `ocean map`: raw records in, entities out, with no server: for testing a mapping.
struct MapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Map raw records (a JSON array or NDJSON) to entities (NDJSON on stdout).",
        discussion: """
            Problems with records (a field that failed, a selector that gave no boolean, an entity \
            without identifier) go to stderr with the record's index; the exit status is 0 as long as \
            the mapping itself is valid.
            """)

    @Option(help: "The port app config (YAML or JSON).")
    var mapping: String

    @Option(help: "The kind whose resources map the records (needed when the mapping has several kinds).")
    var kind: String?

    @Option(help: "Mapping threads (default: the number of cores).")
    var workers: Int?

    @Flag(help: "Print a summary line (records, entities, problems, records/s) on stderr.")
    var stats = false

    @Flag(help: "Run each expression as its own program, as Ocean does (slower; for comparison).")
    var perField = false

    @Argument(help: "The input file; stdin when absent or -.")
    var input: String?

    func run() async throws {
        let allowEnvironment: Bool
        do {
            allowEnvironment = try SettingsSources(environment: .current).bool("OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS") ?? false
        } catch {
            StandardError.print("error: \(error)")
            throw ExitCode(2)
        }
        guard let (plan, issues) = MappingFile.load(mapping, allowEnvironment: allowEnvironment) else { throw ExitCode(2) }
        guard issues.isEmpty else {
            for issue in issues { StandardError.print("error: \(mapping): \(issue)") }
            throw ExitCode(2)
        }
        let kinds = plan.config.kinds
        let chosenKind: String
        if let kind {
            guard kinds.contains(kind) else {
                StandardError.print("error: the mapping has no resource of kind \"\(kind)\"; its kinds: \(kinds.joined(separator: ", "))")
                throw ExitCode(2)
            }
            chosenKind = kind
        } else if kinds.count == 1 {
            chosenKind = kinds[0]
        } else {
            StandardError.print("error: the mapping has \(kinds.count) kinds (\(kinds.joined(separator: ", "))); choose one with --kind")
            throw ExitCode(2)
        }
        if let workers, !(1...256).contains(workers) {
            StandardError.print("error: --workers must be 1...256, got \(workers)")
            throw ExitCode(2)
        }

        let fd: Int32
        if let input, input != "-" {
            fd = open(input, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                StandardError.print("error: cannot open \(input): \(String(cString: strerror(errno)))")
                throw ExitCode(1)
            }
        } else {
            fd = STDIN_FILENO
        }
        defer { if fd != STDIN_FILENO { close(fd) } }

        // (On an error below the process exits: the threads end with it.)
        let pool = MappingPool(workers: workers ?? ProcessInfo.processInfo.activeProcessorCount,
                               strategy: perField ? .perField : .combined, options: plan.options)
        let resources = plan.resourceIndexes(ofKind: chosenKind)
        let started = ContinuousClock.now
        var totals = MappingTotals()
        var output = OutputWriter()
        // Batches in flight are bounded: memory stays flat whatever the input size.
        var inFlight: [Task<MappingResult, Never>] = []
        let maxInFlight = pool.count * 2
        func collect(_ result: MappingResult) {
            for entity in result.entities { output.writeLine(entity.json) }
            output.flushIfLarge()
            for problem in result.problems { StandardError.print("problem: \(problem)") }
            totals.add(result)
        }
        var splitter = RecordSplitter(batchSize: 256)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                StandardError.print("error: reading the input failed: \(String(cString: strerror(errno)))")
                throw ExitCode(1)
            }
            let batches = count == 0 ? splitter.finish() : splitter.feed(chunk[..<count])
            for batch in batches {
                inFlight.append(Task { await pool.map(batch, plan: plan, resources: resources) })
                if inFlight.count >= maxInFlight { collect(await inFlight.removeFirst().value) }
            }
            if count == 0 { break }
        }
        for task in inFlight { collect(await task.value) }
        output.flush()
        await pool.stop()

        if stats {
            let seconds = (ContinuousClock.now - started) / .seconds(1)
            let rate = seconds > 0 ? Double(totals.records) / seconds : 0
            StandardError.print(String(
                format: "mapped %d records into %d entities (%d filtered out, %d failed, %d misconfigured fields) in %.2f s: %.0f records/s",
                totals.records, totals.entities, totals.filteredOut, totals.failed, totals.misconfiguredFields, seconds, rate))
        }
    }
}

/// Buffered writes to stdout.
struct OutputWriter {
    private var buffer: [UInt8] = []

    mutating func writeLine(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        buffer.append(UInt8(ascii: "\n"))
    }

    mutating func flushIfLarge() {
        if buffer.count >= 1 << 20 { flush() }
    }

    mutating func flush() {
        var offset = 0
        while offset < buffer.count {
            let written = buffer[offset...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                break  // stdout closed (a pipe's reader left): nothing more to do
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Every `console` block of the README and docs/ runs as written and prints what the page shows.
///
/// A block is `$ command` lines (`> ` continues a command, as a shell's second prompt shows it), each
/// followed by the output the page shows. The commands of a page run in order in one bash, in a new
/// folder, with the built `ocean` first on the PATH. `… make run` starts the service in the
/// background (the page tells the reader to use another shell) on a free port, which replaces
/// `localhost:8000`; a second `make run` stops the first (as the reader's Ctrl-C). `make fake-port`
/// starts the Port-like API in the background on a free port, which replaces `localhost:8010`. Before each command the test waits, as a reader would, until no job and no
/// webhook delivery is in progress. Output is compared as a reader compares it: JSON by shape (the
/// same keys, the same kinds of value, the same lengths of lists), other lines exactly once ids,
/// times and sizes are masked. `sh` blocks are not run: they need Port, Docker or a real Jira.
@Suite("docs: console blocks run as written")
struct DocsCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Command {
        let text: String
        let expected: [String]
    }

    static func commands(in page: String) throws -> [Command] {
        let lines = try String(contentsOf: root.appendingPathComponent(page), encoding: .utf8).components(separatedBy: "\n")
        var commands: [Command] = []
        var inConsole = false
        var current: (text: String, expected: [String])?
        func flush() {
            if let done = current {
                var expected = done.expected
                while expected.last?.isEmpty == true { expected.removeLast() }
                commands.append(Command(text: done.text, expected: expected))
            }
            current = nil
        }
        for line in lines {
            if line.hasPrefix("```") {
                if inConsole { flush() }
                inConsole = !inConsole && line == "```console"
                continue
            }
            guard inConsole else { continue }
            if line.hasPrefix("$ ") {
                flush()
                current = (String(line.dropFirst(2)), [])
            } else if line.hasPrefix("> "), current?.expected.isEmpty == true {
                current?.text += "\n" + line.dropFirst(2)
            } else if line == ">", current?.expected.isEmpty == true {
                current?.text += "\n"
            } else {
                current?.expected.append(line)
            }
        }
        return commands
    }

    static var pages: [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }

    @Test("each page's console blocks", arguments: DocsCommandTests.pages)
    func page(_ page: String) async throws {
        let commands = try Self.commands(in: page)
        guard !commands.isEmpty else { return }
        let folder = try OceanProcess.temporaryDirectory()
        let binaries = try OceanProcess.binary().deletingLastPathComponent().path
        var service: OceanProcess?
        var port = 0
        var fakePort: OceanProcess?
        var portAPI = 0
        defer {
            if let service { kill(service.process.processIdentifier, SIGKILL) }
            if let fakePort { kill(fakePort.process.processIdentifier, SIGKILL) }
        }
        let shell = try Shell(folder: folder, path: binaries)
        defer { shell.close() }
        func placed(_ text: String) -> String {
            text.replacingOccurrences(of: "localhost:8000", with: "127.0.0.1:\(port)")
                .replacingOccurrences(of: "localhost:8010", with: "127.0.0.1:\(portAPI)")
        }
        for command in commands {
            if command.text == "make fake-port" {
                let started = try OceanProcess.start(["0"], directory: folder, binary: "fake-port")
                fakePort = started
                portAPI = try await Self.announcedPort(started)
                continue
            }
            if command.text.hasSuffix("make run") {
                if let running = service {
                    kill(running.process.processIdentifier, SIGINT)
                    #expect(try await running.exitStatus(within: .seconds(15)) == 0)
                }
                var environment: [String: String] = ["OCEAN__CATALOG__PATH": folder + "/.ocean/catalog.sqlite"]
                for word in command.text.split(separator: " ").dropLast(2) {
                    let parts = word.split(separator: "=", maxSplits: 1)
                    environment[String(parts[0])] = placed(String(parts[1]))
                }
                let started = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "0"], environment: environment, directory: folder)
                service = started
                port = try await started.port()
                continue
            }
            if port != 0 { try await Self.settle(port: port) }
            let text = placed(command.text)
            let run = try await onThread { try shell.run(text) }
            #expect(run.status != 127 && run.status != 126, "\(page): `\(command.text)` could not run: \(run.output)")
            let mismatch = Self.compare(expected: command.expected, actual: run.output)
            #expect(mismatch == nil, "\(page): `\(command.text)`: \(mismatch ?? "")\n--- shown\n\(command.expected.joined(separator: "\n"))\n--- got\n\(run.output)")
        }
        if let service {
            kill(service.process.processIdentifier, SIGTERM)
            #expect(try await service.exitStatus(within: .seconds(15)) == 0)
        }
    }

    /// The port of the base URL `fake-port` prints when it is up.
    static func announcedPort(_ process: OceanProcess) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let line = process.output.split(separator: "\n").first(where: { $0.hasPrefix("http://127.0.0.1:") }),
               let port = Int(line.split(separator: ":").last ?? "") {
                return port
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestHTTPError("fake-port did not say where it listens: \(process.output)")
    }

    /// Waits until no job is queued or running and no webhook delivery waits, as a reader would.
    static func settle(port: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            var busy = false
            for path in ["/jobs?status=queued", "/jobs?status=running", "/webhooks/deliveries?status=pending", "/webhooks/deliveries?status=failed"] {
                let answer = try await fetch(port: port, "GET", path)
                let list = (answer.json?["jobs"] ?? answer.json?["deliveries"]) as? [Any]
                busy = busy || list?.isEmpty != true
            }
            if !busy { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestHTTPError("the service did not settle")
    }

    // MARK: Comparing

    /// Nil when `actual` shows what `expected` shows; else what differs.
    static func compare(expected: [String], actual raw: String) -> String? {
        // HTTP heads end lines with CR LF, which Swift holds as one character: drop the CRs.
        let actual = String(String.UnicodeScalarView(raw.unicodeScalars.filter { $0 != "\r" }))
        let actualLines = actual.components(separatedBy: "\n").filter { !$0.isEmpty }
        if expected.first?.hasPrefix("HTTP/") == true {
            let split = expected.firstIndex(of: "") ?? expected.count
            let actualSplit = actual.components(separatedBy: "\n").firstIndex(of: "") ?? actualLines.count
            let head = actual.components(separatedBy: "\n")[..<actualSplit].map(mask)
            for line in expected[..<split] where !head.contains(mask(line)) { return "no header line like \(line)" }
            let body = actual.components(separatedBy: "\n")[actualSplit...].joined(separator: "\n")
            return compare(expected: Array(expected[split...].drop { $0.isEmpty }), actual: body)
        }
        if expected.count > 1, let shown = json(expected.joined(separator: "\n")) {
            guard let got = json(actual) else { return "the output is not JSON" }
            return sameShape(shown, got, path: "")
        }
        for line in expected where !line.isEmpty {
            if let shown = json(line), line.hasPrefix("{") {
                guard actualLines.contains(where: { json($0).map { sameShape(shown, $0, path: "") == nil } ?? false }) else {
                    return "no JSON line shaped like \(line)"
                }
            } else if !actualLines.map(mask).contains(mask(line)) {
                return "no line like \(line)"
            }
        }
        return nil
    }

    static func json(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    static func sameShape(_ shown: Any, _ got: Any, path: String) -> String? {
        switch (shown, got) {
        case (let a as [String: Any], let b as [String: Any]):
            guard Set(a.keys) == Set(b.keys) else { return "\(path): keys \(a.keys.sorted()) shown, \(b.keys.sorted()) got" }
            for key in a.keys.sorted() {
                if let difference = sameShape(a[key]!, b[key]!, path: path + "." + key) { return difference }
            }
            return nil
        case (let a as [Any], let b as [Any]):
            guard a.count == b.count else { return "\(path): \(a.count) elements shown, \(b.count) got" }
            for (index, pair) in zip(a, b).enumerated() {
                if let difference = sameShape(pair.0, pair.1, path: "\(path)[\(index)]") { return difference }
            }
            return nil
        default:
            return kind(shown) == kind(got) ? nil : "\(path): a \(kind(shown)) shown, a \(kind(got)) got"
        }
    }

    static func kind(_ value: Any) -> String {
        switch value {
        case is NSNull: "null"
        case let number as NSNumber: String(cString: number.objCType) == "c" ? "boolean" : "number"
        case is String: "string"
        default: "\(type(of: value))"
        }
    }

    /// A line with what changes from run to run masked: ids, times, request ids, sizes.
    static func mask(_ line: String) -> String {
        var text = line
        for (pattern, replacement) in [
            (#"(job|dlv)_[0-9a-z]+"#, "$1_ID"), (#"\d{4}-\d\d-\d\dT[0-9:.]+Z"#, "TIME"), (#"^Date: .*"#, "Date: DATE"),
            (#"^X-Request-ID: .*"#, "X-Request-ID: ID"), (#"^Content-Length: \d+"#, "Content-Length: N"),
        ] {
            text = text.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        return text.trimmingCharacters(in: .whitespaces)
    }
}

/// One bash for a whole page, as a reader's terminal: variables set by one command are there for
/// the next. Output and errors come back together, in the order they were written.
final class Shell: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer: [UInt8] = []
    private var number = 0

    init(folder: String, path: String) throws {
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("OCEAN__") || key.hasPrefix("APPLICATION__") { environment[key] = nil }
        environment["PATH"] = path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    /// Runs `command` and returns its exit status and what it printed.
    func run(_ command: String) throws -> (status: Int32, output: String) {
        number += 1
        let marker = "@@ocean-docs-\(number)@@"
        try input.fileHandleForWriting.write(contentsOf: Data((command + "\nprintf '\\n\(marker) %d\\n' $?\n").utf8))
        let descriptor = output.fileHandleForReading.fileDescriptor
        while true {
            let text = String(decoding: buffer, as: UTF8.self)
            if let range = text.range(of: "\n" + marker + " "), let end = text[range.upperBound...].firstIndex(of: "\n") {
                let status = Int32(text[range.upperBound..<end]) ?? -1
                buffer = Array(text[text.index(after: end)...].utf8)
                return (status, String(text[..<range.lowerBound]))
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw TestHTTPError("the shell ended: \(text)") }
            buffer += chunk[..<count]
        }
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

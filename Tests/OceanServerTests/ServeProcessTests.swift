import Foundation
import HTTPTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `ocean` binary, started as a user would start it.
@Suite("ocean serve (the executable)")
struct ServeProcessTests {
    @Test("serves health, turns not-ready and exits 0 on SIGTERM")
    func sigterm() async throws {
        let service = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "0"])
        let port = try await service.port()
        #expect(try await fetch(port: port, "GET", "/health/live").status == 200)
        #expect(try await fetch(port: port, "GET", "/health/ready").status == 200)
        kill(service.process.processIdentifier, SIGTERM)
        let status = try await service.exitStatus(within: .seconds(15))
        #expect(status == 0)
        #expect(throws: (any Error).self) { try TestHTTPConnection(port: port) }
    }

    @Test("SIGINT also shuts down cleanly")
    func sigint() async throws {
        let service = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "0"])
        let port = try await service.port()
        #expect(try await fetch(port: port, "GET", "/health").status == 200)
        kill(service.process.processIdentifier, SIGINT)
        #expect(try await service.exitStatus(within: .seconds(15)) == 0)
    }

    @Test("host and port come from APPLICATION__HOST and APPLICATION__PORT")
    func environment() async throws {
        let probe = try TestPort.free()
        let service = try OceanProcess.start(["serve"], environment: [
            "APPLICATION__HOST": "127.0.0.1", "APPLICATION__PORT": "\(probe)",
        ])
        let port = try await service.port()
        #expect(port == probe)
        #expect(try await fetch(port: port, "GET", "/health/live").status == 200)
        kill(service.process.processIdentifier, SIGTERM)
        #expect(try await service.exitStatus(within: .seconds(15)) == 0)
    }

    @Test("bad settings fail fast with the setting's name", arguments: [
        (["serve"], ["APPLICATION__PORT": "eighty"], "APPLICATION__PORT"),
        (["serve", "--port", "70000", "--host", "127.0.0.1"], [:], "port"),
        (["serve", "--host", "127.0.0.1", "--port", "0"], ["APPLICATION__LOG_LEVEL": "loud"], "APPLICATION__LOG_LEVEL"),
        (["serve", "--host", "127.0.0.1", "--port", "0", "--event-loops", "0"], [:], "event loops"),
    ])
    func badSettings(arguments: [String], environment: [String: String], mentions: String) async throws {
        let service = try OceanProcess.start(arguments, environment: environment)
        let status = try await service.exitStatus(within: .seconds(15))
        #expect(status != 0)
        #expect(service.output.contains(mentions), "output: \(service.output)")
    }
}

/// A child `ocean` process with its combined output collected.
final class OceanProcess: @unchecked Sendable {
    let process = Process()
    private let collected = OutputBuffer()

    static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> OceanProcess {
        let service = OceanProcess()
        let binary = try OceanProcess.binary()
        service.process.executableURL = binary
        service.process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        for key in env.keys where key.hasPrefix("APPLICATION__") || key.hasPrefix("OCEAN__") { env[key] = nil }
        env.merge(environment) { $1 }
        service.process.environment = env
        let pipe = Pipe()
        service.process.standardOutput = pipe
        service.process.standardError = pipe
        let collected = service.collected
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { collected.append(data) }
        }
        try service.process.run()
        return service
    }

    /// The `ocean` binary next to the test bundle (`make test` builds it first).
    static func binary() throws -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("ocean")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let fallback = root.appendingPathComponent(".build/debug/ocean")
        if FileManager.default.isExecutableFile(atPath: fallback.path) { return fallback }
        throw TestHTTPError("the ocean binary was not found; run `swift build` (or `make test`) first")
    }

    var output: String { collected.text }

    /// The port from the "http server listening" log line.
    func port(within timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let range = output.range(of: #"http\.port=(\d+)"#, options: .regularExpression) {
                return Int(output[range].dropFirst("http.port=".count))!
            }
            guard process.isRunning else { throw TestHTTPError("ocean exited early: \(output)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw TestHTTPError("ocean did not report its port: \(output)")
    }

    func exitStatus(within timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw TestHTTPError("ocean did not exit in time: \(output)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(50))  // the last output
        return process.terminationStatus
    }
}

final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

enum TestPort {
    /// A port that was free a moment ago (bind to 0, read it, close).
    static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw TestHTTPError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

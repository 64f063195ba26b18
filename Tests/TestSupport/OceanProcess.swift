public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child that exits before reading its stdin must not kill the test process.
private let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()

/// A child `ocean` process with its combined output collected.
public final class OceanProcess: @unchecked Sendable {
    public let process = Process()
    private let collected = OutputBuffer()

    /// A test that ends early (a failed `try`) must not leave its server running.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// A new empty folder for a child's working directory, so a `config.yaml`, `.env` or
    /// `.ocean/catalog.sqlite` in the project never leaks into a test, and tests never share one.
    public static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ocean-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Starts `ocean` with `arguments` in `directory` (a new empty one by default); `input`, when given,
    /// is written to its stdin, which is then closed.
    /// `descriptorLimit`: the child runs under `ulimit -n` of that many (soft and hard). `name`:
    /// another product of the package (`fake-port`).
    public static func start(
        _ arguments: [String], environment: [String: String] = [:], input: [UInt8]? = nil, directory: String? = nil,
        descriptorLimit: Int? = nil, binary name: String = "ocean"
    ) throws -> OceanProcess {
        ignoreSIGPIPE
        let service = OceanProcess()
        let binary = try OceanProcess.binary(named: name)
        if let descriptorLimit {
            service.process.executableURL = URL(fileURLWithPath: "/bin/sh")
            service.process.arguments = ["-c", "ulimit -n \(descriptorLimit) && exec \"$0\" \"$@\"", binary.path] + arguments
        } else {
            service.process.executableURL = binary
            service.process.arguments = arguments
        }
        service.process.currentDirectoryURL = URL(fileURLWithPath: try directory ?? temporaryDirectory())
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        for key in env.keys where key.hasPrefix("APPLICATION__") || key.hasPrefix("OCEAN__") { env[key] = nil }
        env.merge(environment) { $1 }
        service.process.environment = env
        let pipe = Pipe()
        service.process.standardOutput = pipe
        service.process.standardError = pipe
        let collected = service.collected
        let reader = pipe.fileHandleForReading
        Thread.detachNewThread { PipeReading.drain(reader, into: collected) }
        let stdin = Pipe()
        if input != nil { service.process.standardInput = stdin }
        try service.process.run()
        if let input {
            let handle = stdin.fileHandleForWriting
            DispatchQueue.global().async {
                try? handle.write(contentsOf: Data(input))
                try? handle.close()
            }
        }
        return service
    }

    /// The `ocean` binary (or another product, `name`) next to the test bundle (`make test` builds
    /// them first).
    public static func binary(named name: String = "ocean") throws -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let fallback = root.appendingPathComponent(".build/debug/" + name)
        if FileManager.default.isExecutableFile(atPath: fallback.path) { return fallback }
        throw TestHTTPError("the \(name) binary was not found; run `swift build` (or `make test`) first")
    }

    /// Everything the process wrote to stdout and stderr so far.
    public var output: String { collected.text }

    /// Runs `ocean` to completion and returns its exit status, stdout and stderr, separately. The
    /// waiting happens on a thread of its own, not on the cooperative pool the other tests need.
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], input: [UInt8]? = nil, directory: String? = nil,
        binary name: String = "ocean"
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await onThread { try runBlocking(arguments, environment: environment, input: input, directory: directory, binary: name) }
    }

    private static func runBlocking(
        _ arguments: [String], environment: [String: String], input: [UInt8]?, directory: String?, binary name: String
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        ignoreSIGPIPE
        let process = Process()
        process.executableURL = try binary(named: name)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: try directory ?? temporaryDirectory())
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        for key in env.keys where key.hasPrefix("APPLICATION__") || key.hasPrefix("OCEAN__") { env[key] = nil }
        env.merge(environment) { $1 }
        process.environment = env
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        let writer = stdin.fileHandleForWriting
        DispatchQueue.global().async {
            if let input { try? writer.write(contentsOf: Data(input)) }
            try? writer.close()
        }
        // Both pipes are drained at once, so a chatty child never blocks on a full pipe.
        let errors = OutputBuffer(), out = OutputBuffer()
        let errorsRead = DispatchSemaphore(value: 0)
        let errorHandle = stderr.fileHandleForReading
        Thread.detachNewThread {
            PipeReading.drain(errorHandle, into: errors)
            errorsRead.signal()
        }
        PipeReading.drain(stdout.fileHandleForReading, into: out)
        process.waitUntilExit()
        errorsRead.wait()
        return (process.terminationStatus, out.text, errors.text)
    }

    /// Runs `command` with /bin/sh and returns its exit status (output discarded).
    public static func runShell(_ command: String) async throws -> Int32 {
        try await onThread { try runShellBlocking(command) }
    }

    public static func runShellBlocking(_ command: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The port from the "http server listening" log line.
    public func port(within timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            // A JSON line (`"http.port":"8000"`) or a text one (`http.port=8000`).
            if let range = output.range(of: #"http\.port("?[=:]"?)(\d+)"#, options: .regularExpression) {
                return Int(output[range].filter(\.isNumber))!
            }
            guard process.isRunning else { throw TestHTTPError("ocean exited early: \(output)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw TestHTTPError("ocean did not report its port: \(output)")
    }

    public func exitStatus(within timeout: Duration) async throws -> Int32 {
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

/// Reading a pipe to its end with plain `read(2)`: Foundation's `readDataToEndOfFile` traps on
/// EINTR, which child processes' SIGCHLD causes while several tests run processes at once.
public enum PipeReading {
    /// Reads until end of file, retrying interrupted reads.
    public static func drain(_ handle: FileHandle, into buffer: OutputBuffer) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer.append(Data(chunk[..<count]))
            } else if count == 0 || errno != EINTR {
                return
            }
        }
    }

    /// Everything until end of file.
    public static func readAll(_ handle: FileHandle) -> Data {
        let buffer = OutputBuffer()
        drain(handle, into: buffer)
        return buffer.data
    }
}

public final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()

    public init() {}
    public func append(_ chunk: Data) { lock.withLock { bytes.append(chunk) } }
    public var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
    public var data: Data { lock.withLock { bytes } }
}

public enum TestPort {
    /// A port that was free a moment ago (bind to 0, read it, close).
    public static func free() throws -> Int {
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

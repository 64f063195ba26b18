import Foundation

/// Runs a tool (yamllint, the OpenAPI validator, kubectl) to completion: its exit status and
/// everything it printed, stdout and stderr together. Waited for on a thread of its own, not on the
/// cooperative pool that the servers of the suites running beside the caller need.
public func runTool(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await onThread {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: PipeReading.readAll(output.fileHandleForReading), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}

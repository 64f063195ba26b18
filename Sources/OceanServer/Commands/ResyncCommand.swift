import ArgumentParser
import Essentials
import Foundation
import OceanKit
import OceanEngine

#if canImport(Glibc)
import Glibc
#endif

/// `ocean resync`: runs one resync job in-process and exits: 0 when it succeeded, 3 when it was
/// partial (some records or kinds failed), 1 when it failed or was cancelled.
struct ResyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resync",
        abstract: "Run one resync job in-process: every kind, or one with --kind. Exit 0 when it succeeded, 3 when partial, 1 when it failed.")

    @Option(help: "Only this kind.")
    var kind: String?

    @Flag(help: "Write every entity, also those written the same before (which a job otherwise leaves out).")
    var full = false

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        let settings = try await CommandSettings.load(options)
        let logger = OceanLogging.bootstrap(settings)
        let application = try CommandSettings.application(settings, logger: logger)
        try await Self.runOnce(application, scope: kind.map { .kind($0) } ?? .allKinds, full: full)
    }

    /// Runs the job with progress on stderr (bars on a terminal, lines otherwise) and exits with
    /// its outcome.
    static func runOnce(_ application: OceanApplication, scope: Job.Scope, full: Bool = false) async throws {
        let display = ProgressDisplay(isTerminal: isatty(STDERR_FILENO) == 1)
        let job: Job
        do {
            job = try await application.runOnce(scope, full: full) { display.show($0) }
        } catch let error as ResyncError {
            await application.close()
            throw CommandSettings.fail(error.message, hiding: application.settings.secrets)
        } catch let error as StartupError {
            await application.close()
            throw CommandSettings.fail(error.description, hiding: application.settings.secrets)
        }
        await application.close()
        display.finish(job)
        switch job.status {
        case .succeeded: return
        case .partial: throw ExitCode(3)
        default: throw ExitCode(1)
        }
    }
}

/// Per-resource progress on stderr: redrawn bars on a terminal, one line per change otherwise.
final class ProgressDisplay: Sendable {
    private let isTerminal: Bool
    /// The lines drawn last (progress comes from a watcher task).
    private let drawn = Locked<[String]>([])

    init(isTerminal: Bool) {
        self.isTerminal = isTerminal
    }

    func show(_ job: Job) {
        let lines = job.progress.map(Self.line)
        drawn.withLock { previous in
            let current = lines
            guard current != previous else { return }
            defer { previous = current }
            if self.isTerminal {
                var text = previous.isEmpty ? "" : "\u{1B}[\(previous.count)A"
                for line in current { text += "\r\u{1B}[2K" + line + "\n" }
                FileHandle.standardError.write(Data(text.utf8))
            } else {
                for (index, line) in current.enumerated() where index >= previous.count || previous[index] != line {
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
            }
        }
    }

    func finish(_ job: Job) {
        var text = "job \(job.id) \(job.status.rawValue)"
        if let started = job.startedAt, let finished = job.finishedAt {
            let seconds = finished.timeIntervalSince(started)
            let upserted = job.progress.reduce(0) { $0 + $1.upserted }
            text += String(format: " in %.2f s: %d entities upserted (%.0f entities/s)", seconds, upserted, seconds > 0 ? Double(upserted) / seconds : 0)
            let unchanged = job.progress.reduce(0) { $0 + $1.unchanged }
            if unchanged > 0 { text += ", \(unchanged) unchanged (not sent)" }
        }
        if let error = job.error { text += ": \(error)" }
        for resource in job.progress {
            if let error = resource.error { text += "\n  \(resource.kind): \(error)" }
            for problem in resource.errors.prefix(3) { text += "\n  \(resource.kind): \(problem)" }
        }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    private static func line(_ progress: ResourceProgress) -> String {
        // The total is unknown while a kind runs: the marker moves with every 1,000 records fetched.
        let width = 20
        let finished = progress.status != .queued && progress.status != .running
        let filled = finished ? width : progress.status == .running ? min(width - 1, (progress.fetched / 1000) % width) + 1 : 0
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        return padded(progress.kind, 24) + " [" + bar + "] " + padded(progress.status.rawValue, 9)
            + " fetched \(progress.fetched)  upserted \(progress.upserted)  filtered \(progress.filtered)  failed \(progress.failed)"
            + (progress.unchanged > 0 ? "  unchanged \(progress.unchanged)" : "")
    }

    private static func padded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}


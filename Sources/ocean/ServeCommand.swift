import ArgumentParser
import EventHTTP
import Logging
import Ocean
import OceanServer

/// `ocean serve`: runs the service until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the service: resyncs on start, on a schedule and over HTTP; jobs; health checks.",
        discussion: "With OCEAN__EVENT_LISTENER__TYPE=ONCE it runs one resync of every kind and exits, like `ocean resync`.")

    @Option(help: "Address to listen on (env APPLICATION__HOST; default 0.0.0.0).")
    var host: String?

    @Option(help: "Port to listen on, 0 for any free port (env APPLICATION__PORT; default 8000).")
    var port: Int?

    @Option(help: "Event-loop threads sharing the port (env OCEAN__HTTP__EVENT_LOOPS; default 1).")
    var eventLoops: Int?

    @Option(help: "A mapping file replacing the integration's default (env OCEAN__MAPPING__PATH).")
    var mapping: String?

    func run() async throws {
        var settings = try CommandSettings.load()
        if let host { settings.http.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw CommandSettings.fail("--port must be from 0 to 65535, got \(port)") }
            settings.http.port = port
        }
        if let eventLoops {
            guard (1...64).contains(eventLoops) else { throw CommandSettings.fail("--event-loops must be from 1 to 64, got \(eventLoops)") }
            settings.http.eventLoops = eventLoops
        }
        if let mapping { settings.mappingPath = mapping }
        let logger = CommandSettings.bootstrapLogging(settings)
        let application = try CommandSettings.application(settings, logger: logger)
        if settings.eventListener == .once {
            try await ResyncCommand.runOnce(application, scope: .allKinds)
            return
        }
        do {
            try await application.run()
        } catch let error as StartupError {
            throw CommandSettings.fail(error.description)
        } catch let error as HTTPServerError {
            throw CommandSettings.fail(error.message)
        }
    }
}

/// Settings and start-up shared by the commands that run the service.
enum CommandSettings {
    static func load() throws -> ServiceSettings {
        do {
            return try ServiceSettings.load(from: .current)
        } catch {
            throw fail(error.errors.map(\.description).joined(separator: "\n"))
        }
    }

    static func bootstrapLogging(_ settings: ServiceSettings) -> Logger {
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "ocean")
    }

    static func application(_ settings: ServiceSettings, logger: Logger) throws -> OceanApplication {
        do {
            return try OceanApplication(settings: settings, logger: logger)
        } catch {
            throw fail(error.description)
        }
    }

    /// Prints `message` as an error and gives the exit code for bad settings.
    static func fail(_ message: String) -> ExitCode {
        StandardError.print("error: " + message)
        return ExitCode(2)
    }
}

import ArgumentParser
import EventHTTP
import Essentials
import Logging
import OceanKit
import OceanEngine

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

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        var flags: [String: SettingsSources.Flag] = [:]
        flags["APPLICATION__HOST"] = host.map { .init("--host", $0) }
        flags["APPLICATION__PORT"] = port.map { .init("--port", String($0)) }
        flags["OCEAN__HTTP__EVENT_LOOPS"] = eventLoops.map { .init("--event-loops", String($0)) }
        let settings = try await CommandSettings.load(options, flags: flags)
        let logger = OceanLogging.bootstrap(settings)
        let application = try CommandSettings.application(settings, logger: logger)
        if settings.eventListener == .once {
            try await ResyncCommand.runOnce(application, scope: .allKinds)
            return
        }
        do {
            try await application.run()
        } catch let error as StartupError {
            throw CommandSettings.fail(error.description, hiding: settings.secrets)
        } catch let error as HTTPServerError {
            throw CommandSettings.fail(error.message, hiding: settings.secrets)
        }
    }
}

/// The options every command that reads the service's settings takes: the settings file and the
/// mapping.
struct ServiceOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp(
        "A config.yaml (Ocean's layout; default ./config.yaml when it exists; env OCEAN__CONFIG__PATH).",
        discussion: "Flags win over the environment, which wins over ./.env, which wins over config.yaml."))
    var configPath: String?

    @Option(help: "A mapping file replacing the integration's default (env OCEAN__MAPPING__PATH).")
    var mapping: String?

    /// The settings these options set, as flags.
    var flags: [String: SettingsSources.Flag] {
        mapping.map { ["OCEAN__MAPPING__PATH": .init("--mapping", $0)] } ?? [:]
    }
}

/// Settings and start-up shared by the commands that run the service.
enum CommandSettings {
    /// Every setting from flags, the environment, `.env` and `config.yaml`; every problem printed,
    /// exit status 2.
    static func load(_ options: ServiceOptions, flags: [String: SettingsSources.Flag] = [:]) async throws -> ServiceSettings {
        do {
            let sources = try await SettingsSources.load(flags: flags.merging(options.flags) { $1 }, configFile: options.configPath)
            return try ServiceSettings.load(from: sources, integrations: OceanCommand.integrations)
        } catch {
            throw fail(error.errors.map(\.description).joined(separator: "\nerror: "))
        }
    }

    static func application(_ settings: ServiceSettings, logger: Logger) throws -> OceanApplication {
        do {
            return try OceanApplication(settings: settings, integrations: OceanCommand.integrations, logger: logger)
        } catch {
            throw fail(error.description, hiding: settings.secrets)
        }
    }

    /// Prints `message` as an error, any of `secrets` in it masked, and gives the exit code for bad
    /// settings.
    static func fail(_ message: String, hiding secrets: [String] = []) -> ExitCode {
        StandardError.print("error: " + SecretRedactor(secrets).redact(message))
        return ExitCode(2)
    }
}

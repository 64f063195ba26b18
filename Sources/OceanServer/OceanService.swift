import Essentials
public import Ocean

#if canImport(Glibc)
import Glibc
#endif

/// Runs an integration built into its own binary as a service, the way `ocean serve` runs a built-in
/// one:
///
/// ```swift
/// // Sources/jira/main.swift
/// let http = RetryingHTTPClient(logger: Logger(label: "jira.http"))
/// await OceanService.run(JiraIntegration.make(http: http))
/// ```
///
/// Settings come from the environment, `./.env` and `./config.yaml` (Ocean's names), checked against
/// the integration's spec; every problem is printed and the process exits 2. Then it serves until
/// SIGTERM or SIGINT and exits 0; with `OCEAN__EVENT_LISTENER__TYPE=ONCE` it runs one resync and
/// exits 0 when it succeeded, 1 when not.
public enum OceanService {
    public static func run(_ integration: OceanIntegration) async -> Never {
        let settings: ServiceSettings
        do {
            settings = try ServiceSettings.load(from: try await SettingsSources.load(), integration: integration)
        } catch {
            for problem in error.errors { printError(problem.description) }
            exit(2)
        }
        let logger = OceanLogging.bootstrap(settings)
        let redactor = SecretRedactor(settings.secrets)
        do {
            let application = try OceanApplication(settings: settings, integration: integration, logger: logger)
            if settings.eventListener == .once {
                let job = try await application.runOnce(.allKinds)
                await application.close()
                exit(job.status == .succeeded ? 0 : 1)
            }
            try await application.run()
            exit(0)
        } catch {
            printError(redactor.redact("\(error)"))
            exit(2)
        }
    }

    private static func printError(_ message: String) {
        let line = Array(("error: " + message + "\n").utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

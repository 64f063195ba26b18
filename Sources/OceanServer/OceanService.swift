public import OceanKit
import Foundation

/// Runs a binary built on swift-ocean: the command line `ocean` has (`serve`, the default, then
/// `resync`, `validate` and `map`), for the integrations the binary holds.
///
/// ```swift
/// // Sources/jira/main.swift
/// await OceanService.run(JiraIntegration.make())
/// ```
///
/// Settings come from flags, the environment, `./.env` and `./config.yaml` (Ocean's names), checked
/// against the integration's spec; every problem is printed and the process exits 2. `serve` runs
/// until SIGTERM or SIGINT and exits 0; with `OCEAN__EVENT_LISTENER__TYPE=ONCE` it runs one resync
/// and exits 0 when it succeeded, 1 when not.
public enum OceanService {
    /// Runs the command line for the binary's own integration.
    public static func run(_ integration: OceanIntegration) async -> Never {
        await run(.single(integration))
    }

    /// Runs the command line for `integrations` (`ocean` passes its built-in ones).
    public static func run(_ integrations: IntegrationChoice) async -> Never {
        await OceanCommand.$integrations.withValue(integrations) {
            await OceanCommand.main()
        }
        exit(0)
    }
}

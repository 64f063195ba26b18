import ArgumentParser
import Foundation

/// The command line every binary built on swift-ocean has: `serve` (the default), `resync`, `map`
/// and `validate`, for the integrations the binary holds (`OceanService.run` sets them).
struct OceanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        // `ocean`, or the integration's own binary's name.
        commandName: CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "ocean",
        abstract: "Port integrations as one small, fast service.",
        subcommands: [ServeCommand.self, ResyncCommand.self, MapCommand.self, ValidateCommand.self, DefaultsCommand.self],
        defaultSubcommand: ServeCommand.self)

    /// The integrations of the binary running the command line.
    @TaskLocal static var integrations = IntegrationChoice.byType([], make: { _ in nil })
}

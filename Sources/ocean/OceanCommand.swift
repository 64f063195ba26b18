import ArgumentParser

/// `ocean`: the swift-ocean command line.
@main
struct OceanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ocean",
        abstract: "Port integrations as one small, fast service.",
        subcommands: [ServeCommand.self, ResyncCommand.self, MapCommand.self, ValidateCommand.self],
        defaultSubcommand: ServeCommand.self)
}

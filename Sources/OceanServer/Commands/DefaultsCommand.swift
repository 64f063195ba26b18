import ArgumentParser
import Foundation
import OceanPort

#if canImport(Glibc)
import Glibc
#endif

/// `ocean defaults apply|clean`: the integration's Port resources by hand.
struct DefaultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defaults",
        abstract: "Create (apply) or delete (clean) the integration's blueprints and other resources in Port.",
        subcommands: [Apply.self, Clean.self])

    /// `ocean defaults apply`.
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apply",
            abstract: "Create the integration's blueprints (in three stages), scorecards, pages, actions and default mapping in Port.",
            discussion: "Nothing is created when any of its blueprints exists already (what a user changed is never overwritten).")

        @OptionGroup var options: ServiceOptions

        func run() async throws {
            let application = try await DefaultsCommand.application(options)
            do {
                let outcome = try await application.applyPortDefaults()
                await application.close()
                if !outcome.existing.isEmpty {
                    print("created nothing: these blueprints exist in Port already: \(outcome.existing.joined(separator: ", "))")
                } else {
                    print("created the blueprints \(outcome.created.isEmpty ? "(none)" : outcome.created.joined(separator: ", "))")
                }
                for problem in outcome.problems { StandardError.print("warning: \(problem)") }
            } catch {
                await application.close()
                throw CommandSettings.fail("\(error)", hiding: application.settings.secrets)
            }
        }
    }

    /// `ocean defaults clean [--force]`.
    struct Clean: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clean",
            abstract: "Delete the integration's blueprints and all their entities in Port (asks first unless --force).")

        @Flag(help: "Do not ask.")
        var force = false

        @OptionGroup var options: ServiceOptions

        func run() async throws {
            let application = try await DefaultsCommand.application(options)
            let blueprints = application.integration.resources.blueprintIdentifiers
            guard !blueprints.isEmpty else {
                await application.close()
                print("the \(application.integration.type) integration has no blueprints: nothing to delete")
                return
            }
            if !force {
                guard isatty(STDIN_FILENO) == 1 else {
                    await application.close()
                    throw CommandSettings.fail("this deletes the blueprints \(blueprints.joined(separator: ", ")) and every entity in them: give --force (standard input is not a terminal to ask)")
                }
                StandardError.print("Delete the blueprints \(blueprints.joined(separator: ", ")) and every entity in them from Port? [y/N] ", newline: false)
                guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                    await application.close()
                    print("nothing deleted")
                    return
                }
            }
            do {
                let deleted = try await application.cleanPortDefaults()
                await application.close()
                print("deleted the blueprints \(deleted.isEmpty ? "(none: they were not there)" : deleted.joined(separator: ", ")) with their entities")
            } catch {
                await application.close()
                throw CommandSettings.fail("\(error)", hiding: application.settings.secrets)
            }
        }
    }

    static func application(_ options: ServiceOptions) async throws -> OceanApplication {
        let settings = try await CommandSettings.load(options)
        guard settings.port != nil else {
            throw CommandSettings.fail("ocean defaults needs Port: set OCEAN__PORT__CLIENT_ID and OCEAN__PORT__CLIENT_SECRET")
        }
        let logger = OceanLogging.bootstrap(settings)
        return try CommandSettings.application(settings, logger: logger)
    }
}

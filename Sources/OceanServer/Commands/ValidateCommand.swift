import ArgumentParser
import OceanKit
import OceanEngine

/// `ocean validate`: checks the configuration, the integration's spec and the mapping together,
/// without starting anything.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the settings (flags, environment, .env, config.yaml) against the integration's spec, and the mapping.",
        discussion: """
            Every problem is listed, each with the variable to set or the resource, kind and field to \
            fix; the exit status is 1 when there is any. The mapping checked is --mapping, else \
            OCEAN__MAPPING__PATH, else the integration's default.
            """)

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        var problems = 0
        var settings: ServiceSettings?
        do {
            let sources = try await SettingsSources.load(flags: options.flags, configFile: options.configPath)
            settings = try ServiceSettings.load(from: sources, integrations: OceanCommand.integrations)
        } catch {
            for problem in error.errors { StandardError.print("error: \(problem)") }
            problems += error.errors.count
        }
        for warning in settings?.warnings ?? [] { StandardError.print("warning: \(warning)") }
        if let settings {
            let destination = settings.port.map { "Port at \($0.baseURL)" } ?? "the catalog \(settings.catalogPath)"
            print("configuration: valid (integration \(settings.integrationType) \"\(settings.integrationIdentifier)\", destination \(destination))")
        }

        let allowEnvironment = settings?.allowEnvironmentInJQ ?? false
        // The mapping checked: the one given, else the configured one, else the integration's
        // default (unknown when the settings are broken: then only a given one is checked).
        var mappingToCheck: (origin: String, load: () -> (plan: MappingPlan, issues: [MappingIssue])?)?
        if let path = options.mapping ?? settings?.mappingPath {
            mappingToCheck = (path, { MappingFile.load(path, allowEnvironment: allowEnvironment) })
        } else if let settings {
            guard let text = OceanCommand.integrations.integration(type: settings.integrationType)?.defaultMapping else {
                throw CommandSettings.fail("the \(settings.integrationType) integration has no default mapping: give one with --mapping")
            }
            let origin = "the \(settings.integrationType) integration's default mapping"
            mappingToCheck = (origin, { MappingFile.load(text: text, origin: origin, allowEnvironment: allowEnvironment) })
        }
        if let (origin, load) = mappingToCheck {
            if let (plan, issues) = load() {
                for issue in issues { StandardError.print("error: \(origin): \(issue)") }
                problems += issues.count
                if issues.isEmpty {
                    let resources = plan.config.resources.count
                    print("\(origin): valid (\(resources) resource\(resources == 1 ? "" : "s"), \(plan.expressionCount) jq expressions)")
                }
            } else {
                problems += 1   // unreadable or unparsable: MappingFile printed why
            }
        }
        guard problems == 0 else {
            StandardError.print("\(problems) problem\(problems == 1 ? "" : "s")")
            throw ExitCode(1)
        }
    }
}

import ArgumentParser
import Ocean
import OceanServer

/// `ocean validate`: checks a mapping without starting anything.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a mapping: every jq expression compiles; each problem listed with resource, kind and field.")

    @Option(help: "The port app config (YAML or JSON).")
    var mapping: String

    func run() throws {
        guard let (plan, issues) = MappingFile.load(mapping, environment: .current) else {
            throw ExitCode(1)
        }
        for issue in issues {
            StandardError.print("error: \(mapping): \(issue)")
        }
        guard issues.isEmpty else {
            StandardError.print("\(mapping): \(issues.count) problem\(issues.count == 1 ? "" : "s")")
            throw ExitCode(1)
        }
        print("\(mapping): valid (\(plan.config.resources.count) resources, \(plan.expressionCount) jq expressions)")
    }
}

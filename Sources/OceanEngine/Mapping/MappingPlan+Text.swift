public import JQ
public import OceanKit

extension MappingPlan {
    /// Why a mapping text cannot run: it does not parse, or some expressions do not compile.
    public enum TextProblem: Error, Sendable {
        /// Every problem of the YAML or JSON text, with its path.
        case invalid([ConfigurationError])
        /// Every expression that does not compile, with its resource and field.
        case doesNotCompile([MappingIssue])
    }

    /// Parses a mapping (YAML or JSON text) and compiles all of it, so a broken mapping is found
    /// before anything runs: what a start and a test do with the mapping they are given.
    public static func checked(
        _ text: String, options: JQDialect.Options = .init()
    ) throws(TextProblem) -> (config: PortAppConfig, warnings: [String]) {
        let parsed: (config: PortAppConfig, warnings: [String])
        do {
            let result = try PortAppConfig.parse(text)
            parsed = (result.config, result.warnings.map { "\($0)" })
        } catch {
            throw .invalid(error.errors)
        }
        let issues = build(parsed.config, options: options).issues
        guard issues.isEmpty else { throw .doesNotCompile(issues) }
        return parsed
    }
}

import Foundation
import JQ
import OceanKit
import OceanEngine

/// Loading a mapping file for the commands, with every problem printed where a user looks.
enum MappingFile {
    /// Reads, parses and plans `path`; prints warnings and problems to stderr. Nil when the mapping
    /// is unusable (each reason printed).
    static func load(_ path: String, allowEnvironment: Bool) -> (plan: MappingPlan, issues: [MappingIssue])? {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            StandardError.print("error: cannot read the mapping \(path): \(error.localizedDescription)")
            return nil
        }
        return load(text: text, origin: path, allowEnvironment: allowEnvironment)
    }

    /// Parses and plans a mapping given as text; `origin` names it in messages.
    static func load(text: String, origin path: String, allowEnvironment: Bool) -> (plan: MappingPlan, issues: [MappingIssue])? {
        let config: PortAppConfig
        do {
            let parsed = try PortAppConfig.parse(text)
            config = parsed.config
            for warning in parsed.warnings { StandardError.print("warning: \(path): \(warning)") }
        } catch {
            for problem in error.errors { StandardError.print("error: \(path): \(problem)") }
            return nil
        }
        let options = JQDialect.Options(allowEnvironmentAccess: allowEnvironment)
        return MappingPlan.build(config, options: options)
    }
}

/// Unbuffered lines on standard error.
enum StandardError {
    static func print(_ line: String, newline: Bool = true) {
        FileHandle.standardError.write(Data((line + (newline ? "\n" : "")).utf8))
    }
}

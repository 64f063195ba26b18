import ArgumentParser
import EventHTTP
import Logging
import OceanServer

#if canImport(Glibc)
import Glibc
#endif

/// `ocean serve`: runs the HTTP service until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the service: resync triggers, jobs, webhooks and health checks over HTTP.")

    @Option(help: "Address to listen on (env APPLICATION__HOST; default 0.0.0.0).")
    var host: String?

    @Option(help: "Port to listen on, 0 for any free port (env APPLICATION__PORT; default 8000).")
    var port: Int?

    @Option(help: "Event-loop threads sharing the port (env OCEAN__HTTP__EVENT_LOOPS; default 1).")
    var eventLoops: Int?

    func run() async throws {
        let environment = Environment.current
        var http = HTTPServerConfiguration()
        http.host = host ?? environment["APPLICATION__HOST"] ?? http.host
        http.port = try port ?? environment.integer("APPLICATION__PORT") ?? http.port
        http.eventLoops = try eventLoops ?? environment.integer("OCEAN__HTTP__EVENT_LOOPS") ?? http.eventLoops
        http.maxBodySize = try environment.integer("OCEAN__HTTP__MAX_BODY_SIZE") ?? http.maxBodySize
        http.maxHeadersSize = try environment.integer("OCEAN__HTTP__MAX_HEADERS_SIZE") ?? http.maxHeadersSize
        http.connectionTimeoutSeconds = try environment.integer("OCEAN__HTTP__TIMEOUT_SECONDS")
            ?? http.connectionTimeoutSeconds
        if let grace = try environment.integer("OCEAN__HTTP__SHUTDOWN_GRACE_SECONDS") {
            http.shutdownGracePeriod = .seconds(grace)
        }

        let level = try environment.logLevel("APPLICATION__LOG_LEVEL") ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ocean")
        do {
            try await OceanApplication(http: http, logger: logger).run()
        } catch let error as HTTPServerError {
            throw ValidationError(error.message)
        }
    }
}

/// The process environment, with typed reads that fail with the variable's name.
struct Environment {
    let values: [String: String]

    static var current: Environment {
        var values: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                values[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return Environment(values: values)
    }

    subscript(name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    func integer(_ name: String) throws -> Int? {
        guard let text = self[name] else { return nil }
        guard let value = Int(text.trimmingWhitespace()) else {
            throw ValidationError("\(name) must be a whole number, got \"\(text.prefix(40))\"")
        }
        return value
    }

    /// A boolean variable: true/false (also 1/0, yes/no); unset or anything else is false.
    func flag(_ name: String) -> Bool {
        guard let text = self[name]?.trimmingWhitespace().lowercased() else { return false }
        return ["true", "1", "yes", "on"].contains(text)
    }

    func logLevel(_ name: String) throws -> Logger.Level? {
        guard let text = self[name] else { return nil }
        let normalized = text.trimmingWhitespace().lowercased()
        let aliases: [String: Logger.Level] = ["warn": .warning, "fatal": .critical]
        guard let level = Logger.Level(rawValue: normalized) ?? aliases[normalized] else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("\(name) must be one of \(names), got \"\(text.prefix(40))\"")
        }
        return level
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

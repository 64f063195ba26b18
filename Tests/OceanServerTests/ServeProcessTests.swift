import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `ocean` binary, started as a user would start it.
@Suite("ocean serve (the executable)")
struct ServeProcessTests {
    @Test("serves health, turns not-ready and exits 0 on SIGTERM")
    func sigterm() async throws {
        let service = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "0"])
        let port = try await service.port()
        #expect(try await fetch(port: port, "GET", "/health/live").status == 200)
        #expect(try await fetch(port: port, "GET", "/health/ready").status == 200)
        kill(service.process.processIdentifier, SIGTERM)
        let status = try await service.exitStatus(within: .seconds(15))
        #expect(status == 0)
        #expect(throws: (any Error).self) { try TestHTTPConnection(port: port) }
    }

    @Test("SIGINT also shuts down cleanly")
    func sigint() async throws {
        let service = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "0"])
        let port = try await service.port()
        #expect(try await fetch(port: port, "GET", "/health").status == 200)
        kill(service.process.processIdentifier, SIGINT)
        #expect(try await service.exitStatus(within: .seconds(15)) == 0)
    }

    @Test("host and port come from APPLICATION__HOST and APPLICATION__PORT")
    func environment() async throws {
        let probe = try TestPort.free()
        let service = try OceanProcess.start(["serve"], environment: [
            "APPLICATION__HOST": "127.0.0.1", "APPLICATION__PORT": "\(probe)",
        ])
        let port = try await service.port()
        #expect(port == probe)
        #expect(try await fetch(port: port, "GET", "/health/live").status == 200)
        kill(service.process.processIdentifier, SIGTERM)
        #expect(try await service.exitStatus(within: .seconds(15)) == 0)
    }

    @Test("bad settings fail fast with the setting's name", arguments: [
        (["serve"], ["APPLICATION__PORT": "eighty"], "APPLICATION__PORT"),
        (["serve", "--port", "70000", "--host", "127.0.0.1"], [:], "port"),
        (["serve", "--host", "127.0.0.1", "--port", "0"], ["APPLICATION__LOG_LEVEL": "loud"], "APPLICATION__LOG_LEVEL"),
        (["serve", "--host", "127.0.0.1", "--port", "0", "--event-loops", "0"], [:], "--event-loops"),
    ])
    func badSettings(arguments: [String], environment: [String: String], mentions: String) async throws {
        let service = try OceanProcess.start(arguments, environment: environment)
        let status = try await service.exitStatus(within: .seconds(15))
        #expect(status != 0)
        #expect(service.output.contains(mentions), "output: \(service.output)")
    }
}


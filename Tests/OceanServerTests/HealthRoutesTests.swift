import EventHTTP
import TestSupport
import Logging
import OceanServer
import Testing

@Suite("Health routes")
struct HealthRoutesTests {
    @Test("live is 200 throughout; ready is 503 while starting, 200 when ready, 503 while stopping")
    func readinessPhases() async throws {
        let service = try await TestService.start()
        let readiness = service.application.readiness
        let port = service.port

        for path in ["/health", "/health/live"] {
            let live = try await fetch(port: port, "GET", path)
            #expect(live.status == 200)
            #expect(live.json?["status"] as? String == "ok")
        }
        let starting = try await fetch(port: port, "GET", "/health/ready")
        #expect(starting.status == 503)
        #expect(starting.errorCode == "unavailable")
        #expect(starting.header("Retry-After") == "1")

        readiness.advance(to: .ready)
        let ready = try await fetch(port: port, "GET", "/health/ready")
        #expect(ready.status == 200)
        #expect(ready.json?["status"] as? String == "ready")

        readiness.advance(to: .stopping)
        readiness.advance(to: .ready)  // never goes back
        #expect(try await fetch(port: port, "GET", "/health/ready").status == 503)
        #expect(try await fetch(port: port, "GET", "/health/live").status == 200)

        let wrongMethod = try await fetch(port: port, "POST", "/health/live")
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.header("Allow") == "GET, HEAD")
        let unknown = try await fetch(port: port, "GET", "/healthz")
        #expect(unknown.status == 404)
        #expect(unknown.errorCode == "not_found")
        await service.stop()
    }
}

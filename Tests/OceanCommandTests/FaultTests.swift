import Essentials
import Foundation
import OceanIntegrations
import OceanKit
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The permanent fault suite: the real `ocean serve` on loopback under what breaks services in
/// production: descriptor exhaustion, slow clients, smuggling, SIGKILL mid-stream, a removed
/// catalog. Each test asserts what must hold (the process alive, nothing acknowledged lost, no wrong
/// deletion), never how fast.
@Suite("Faults: the real binary under hostile clients and failing dependencies")
struct FaultTests {
    static let secret = "fault-webhook-secret"

    func serve(_ environment: [String: String] = [:], directory: String? = nil, descriptorLimit: Int? = nil) async throws -> (OceanProcess, Int) {
        let service = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "0"], environment: [
            "OCEAN__RESYNC_ON_START": "false", "OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET": Self.secret,
        ].merging(environment) { $1 }, directory: directory, descriptorLimit: descriptorLimit)
        let port = try await service.port()
        try await waitUntilReady(port)
        return (service, port)
    }

    func waitUntilReady(_ port: Int) async throws {
        for _ in 0..<200 {
            if (try? await fetch(port: port, "GET", "/health/ready"))?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestHTTPError("the service never became ready")
    }

    func stop(_ service: OceanProcess) async throws {
        kill(service.process.processIdentifier, SIGTERM)
        _ = try await service.exitStatus(within: .seconds(30))
    }

    /// A signed delivery upserting person `id`.
    func delivery(_ id: String) -> (body: [UInt8], signature: String) {
        let body = Array(#"{"action":"upsert","person":{"id":"\#(id)","name":"P \#(id)","email":"p@x","age":30,"status":"WORKING","bio":"b","department":{"id":"hr","name":"Human Resources"}}}"#.utf8)
        return (body, WebhookSignature.header(body: body, secret: Self.secret))
    }

    @Test("out of descriptors: 400 idle and trickling connections under ulimit -n 256; the process lives, answers and recovers")
    func descriptorExhaustion() async throws {
        // Twice: with the connection limit the descriptor limit leaves, and with a limit above it, so
        // accept() itself fails for want of descriptors.
        for maxConnections in [nil, "2000"] {
            var environment: [String: String] = ["APPLICATION__LOG_LEVEL": "info"]
            environment["OCEAN__HTTP__MAX_CONNECTIONS"] = maxConnections
            let (service, port) = try await serve(environment, descriptorLimit: 256)
            let idle = (0..<300).compactMap { _ in try? TestHTTPConnection(port: port, timeout: 2) }
            let trickling = (0..<100).compactMap { _ in try? TestHTTPConnection(port: port, timeout: 2) }
            for round in 0..<6 {
                for connection in trickling { try? connection.send(round == 0 ? "GET /health/live HTTP/1.1\r\nHo" : "s") }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(service.process.isRunning, "ocean died at the descriptor limit: \(service.output.suffix(2000))")
            // A health check on a new connection is answered (the idlest connections make room, or
            // the listener resumes as soon as descriptors free up).
            var answered = false
            for _ in 0..<40 where !answered {
                answered = (try? await fetch(port: port, "GET", "/health/live"))?.status == 200
                if !answered { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(answered, "no health check answered while the connections were held (max connections \(maxConnections ?? "derived"))")
            _ = (idle.count, trickling.count)
            let logged = service.output.components(separatedBy: "\n").filter { $0.contains("accepting connections failed") || $0.contains("connection limit reached") }
            #expect(logged.count <= 10, "the accept failure was logged \(logged.count) times in a few seconds")
            #expect(!service.output.contains("Error from accept() call"))
            try await stop(service)
        }
    }

    @Test("a head trickling in a byte at a time is cut off at the header deadline")
    func slowHeaders() async throws {
        let (service, port) = try await serve(["OCEAN__HTTP__HEADER_TIMEOUT_SECONDS": "1", "OCEAN__HTTP__BODY_TIMEOUT_SECONDS": "1"])
        for prefix in ["GET /health/live HTTP/1.1\r\nX-Slow: ", "POST /integration/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"] {
            let closed = try await onThread { () -> Bool in
                let connection = try TestHTTPConnection(port: port, timeout: 1)
                try connection.send(prefix)
                for _ in 0..<60 {
                    Thread.sleep(forTimeInterval: 0.1)
                    if connection.isClosedByPeer() || (try? connection.send("a")) == nil { return true }
                }
                return false
            }
            #expect(closed, "a trickling client held its connection past the deadline")
        }
        #expect(service.process.isRunning)
        try await stop(service)
    }

    @Test("smuggled and authority-form requests are refused and start nothing")
    func smuggling() async throws {
        let (service, port) = try await serve()
        let smuggled = "POST /resync HTTP/1.1\r\nHost: x\r\n\r\n"
        for raw in [
            "POST //integration/resync HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST //x/resync HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /integration/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)",
            "POST /integration/webhook HTTP/1.1\r\nHost: x\r\nContent-Length : \(smuggled.utf8.count)\r\n\r\n\(smuggled)",
            "POST /integration/webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxx\r\n0\r\n\r\n\(smuggled)",
            "GET /health/live HTTP/1.1\r\n\r\n\(smuggled)",
        ] {
            let response = try await onThread {
                let connection = try TestHTTPConnection(port: port, timeout: 5)
                try connection.send(raw)
                return try connection.readResponse()
            }
            #expect(response.status == 400, "\(raw.prefix(40))")
        }
        let jobs = try await fetch(port: port, "GET", "/jobs")
        #expect(jobs.text == #"{"jobs":[]}"#, "a smuggled request started a job")
        try await stop(service)
    }

    @Test("SIGKILL in a stream of signed deliveries: after the restart every 202 is applied, once")
    func killDuringDeliveries() async throws {
        let directory = try OceanProcess.temporaryDirectory()
        let (service, port) = try await serve(directory: directory)
        let accepted = Locked<[String: String]>([:])  // person id -> delivery id
        let sender = Task {
            try await onThread {
                for n in 0..<100_000 {
                    let (body, signature) = delivery("hr-k\(n)")
                    guard let connection = try? TestHTTPConnection(port: port, timeout: 2),
                          let response = try? connection.request("POST", "/integration/webhook", headers: [("X-Hub-Signature-256", signature)], body: body)
                    else { return }
                    if response.status == 202, let id = response.json?["id"] as? String {
                        accepted.withLock { $0["hr-k\(n)"] = id }
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(800))
        kill(service.process.processIdentifier, SIGKILL)
        _ = try await service.exitStatus(within: .seconds(10))
        try await sender.value
        let acknowledged = accepted.current
        #expect(acknowledged.count > 10)
        let (restarted, newPort) = try await serve(directory: directory)
        var applied = 0
        for _ in 0..<300 {
            let pending = try await fetch(port: newPort, "GET", "/webhooks/deliveries?status=pending&limit=1")
            let failed = try await fetch(port: newPort, "GET", "/webhooks/deliveries?status=failed&limit=1")
            if pending.text == #"{"deliveries":[]}"# && failed.text == #"{"deliveries":[]}"# { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        for (person, _) in acknowledged {
            let entity = try await fetch(port: newPort, "GET", "/entities?identifier=\(person)")
            if entity.text.contains(#""identifier":"\#(person)""#) { applied += 1 }
        }
        #expect(applied == acknowledged.count, "\(acknowledged.count - applied) acknowledged deliveries were lost")
        let done = try await fetch(port: newPort, "GET", "/webhooks/deliveries?status=done&limit=500")
        let doneIDs = (done.json?["deliveries"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(Set(doneIDs).count == doneIDs.count, "a delivery is listed twice")
        #expect((done.json?["deliveries"] as? [[String: Any]] ?? []).allSatisfy { ($0["attempts"] as? Int ?? 0) <= 2 })
        try await stop(restarted)
    }

    @Test("SIGKILL mid-resync: the restart reports the job interrupted, deletes nothing, and the next resync succeeds")
    func killMidResync() async throws {
        let directory = try OceanProcess.temporaryDirectory()
        let environment = ["OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT": "150", "OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_BATCH_SIZE": "20",
                           "OCEAN__INTEGRATION__CONFIG__THIRD_PARTY_LATENCY_MS": "60"]
        let (first, port) = try await serve(environment, directory: directory)
        // A complete first job, then a second killed halfway.
        let one = try await fetch(port: port, "POST", "/resync")
        let firstID = try #require(one.json?["id"] as? String)
        for _ in 0..<600 {
            if (try await fetch(port: port, "GET", "/jobs/\(firstID)")).json?["status"] as? String == "succeeded" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let before = try await fetch(port: port, "GET", "/entities?limit=1000")
        let count = (before.json?["entities"] as? [Any])?.count ?? 0
        #expect(count == 755)
        let two = try await fetch(port: port, "POST", "/resync")
        let secondID = try #require(two.json?["id"] as? String)
        try await Task.sleep(for: .milliseconds(1000))
        #expect((try await fetch(port: port, "GET", "/jobs/\(secondID)")).json?["status"] as? String == "running")
        kill(first.process.processIdentifier, SIGKILL)
        _ = try await first.exitStatus(within: .seconds(10))
        let (second, newPort) = try await serve(environment, directory: directory)
        let job = try await fetch(port: newPort, "GET", "/jobs/\(secondID)")
        #expect(job.json?["status"] as? String == "failed")
        #expect((job.json?["error"] as? String)?.contains("interrupted") == true)
        // What it had counted before the kill is kept.
        let counted = (job.json?["progress"] as? [[String: Any]] ?? []).reduce(0) { $0 + ($1["fetched"] as? Int ?? 0) }
        #expect(counted > 0, "the interrupted job kept no progress")
        let after = try await fetch(port: newPort, "GET", "/entities?limit=1000")
        #expect((after.json?["entities"] as? [Any])?.count == count, "entities were lost to the killed job")
        let three = try await fetch(port: newPort, "POST", "/resync")
        let thirdID = try #require(three.json?["id"] as? String)
        var status = ""
        for _ in 0..<600 {
            status = (try await fetch(port: newPort, "GET", "/jobs/\(thirdID)")).json?["status"] as? String ?? ""
            if status == "succeeded" || status == "failed" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status == "succeeded")
        try await stop(second)
    }

    @Test("the catalog's folder removed: deliveries are refused 503, readiness says why, nothing is acknowledged and lost")
    func catalogRemoved() async throws {
        let directory = try OceanProcess.temporaryDirectory()
        let (service, port) = try await serve(directory: directory)
        let (body, signature) = delivery("hr-before")
        #expect(try await fetch(port: port, "POST", "/integration/webhook", headers: [("X-Hub-Signature-256", signature)], body: body).status == 202)
        try FileManager.default.removeItem(atPath: directory + "/.ocean")
        var statuses: [Int] = []
        for n in 0..<10 {
            let (body, signature) = delivery("hr-after-\(n)")
            statuses.append(try await fetch(port: port, "POST", "/integration/webhook", headers: [("X-Hub-Signature-256", signature)], body: body).status)
        }
        #expect(!statuses.contains(202), "a delivery into a removed catalog was acknowledged: \(statuses)")
        var ready = 200
        for _ in 0..<100 where ready == 200 {
            ready = try await fetch(port: port, "GET", "/health/ready").status
            if ready == 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready == 503)
        let reason = try await fetch(port: port, "GET", "/health/ready")
        #expect(reason.text.contains("catalog"))
        #expect(service.process.isRunning)
        try await stop(service)
    }

    @Test("a full disk: deliveries are refused, not acknowledged; readiness reports it (a small tmpfs, where the machine allows mounting)")
    func fullDisk() async throws {
        let mountPoint = try OceanProcess.temporaryDirectory()
        let mounted = try await OceanProcess.runShell("mount -t tmpfs -o size=2m tmpfs \(mountPoint)")
        guard mounted == 0 else {
            print("skipped: this machine does not allow mounting a tmpfs here")
            return
        }
        defer { _ = try? OceanProcess.runShellBlocking("umount -l \(mountPoint)") }
        let (service, port) = try await serve(["OCEAN__CATALOG__PATH": mountPoint + "/catalog.sqlite"])
        let (firstBody, firstSignature) = delivery("hr-before-full")
        let first = try await fetch(port: port, "POST", "/integration/webhook", headers: [("X-Hub-Signature-256", firstSignature)], body: firstBody)
        let firstID = try #require(first.json?["id"] as? String)
        var firstDone = false
        for _ in 0..<100 where !firstDone {
            let done = try await fetch(port: port, "GET", "/webhooks/deliveries?status=done").json?["deliveries"] as? [[String: Any]]
            firstDone = done?.contains { $0["id"] as? String == firstID } == true
            if !firstDone { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(firstDone)
        // Fill the disk but for the catalog.
        _ = try await OceanProcess.runShell("dd if=/dev/zero of=\(mountPoint)/filler bs=64k 2>/dev/null || true")
        var statuses: [Int] = []
        for n in 0..<200 {
            let (body, signature) = delivery("hr-full-\(n)-" + String(repeating: "x", count: 2000))
            statuses.append(try await fetch(port: port, "POST", "/integration/webhook", headers: [("X-Hub-Signature-256", signature)], body: body).status)
            if statuses.last == 503 { break }
        }
        #expect(statuses.last == 503, "a full disk never refused a delivery: \(statuses.suffix(5))")
        // A replay that cannot be stored is the store's failure (503), not an unknown delivery (404).
        let replay = try await fetch(port: port, "POST", "/webhooks/deliveries/\(firstID)/replay")
        #expect(replay.status == 503, "\(replay.status): \(replay.text)")
        #expect(service.process.isRunning)
        var ready = 200
        for _ in 0..<100 where ready == 200 {
            ready = try await fetch(port: port, "GET", "/health/ready").status
            if ready == 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready == 503)
        try await stop(service)
    }
}

/// Records on which libjq 1.6 traps, aborts or loops: each fails alone, the job and the service go on.
@Suite("Faults: records that crash or hang libjq 1.6")
struct JQFaultTests {
    /// Every expression a record below breaks; a good record maps through all of them.
    static let mapping = """
        resources:
          - kind: items
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: .id
                  blueprint: '"item"'
                  properties:
                    mod: (.a % .b)
                    slice: (.arr[.s:1])
                    time: (. as $r | 0 | strftime($r.f))
                    set: (. as $r | [] | .[$r.i] = 1 | length)
                    del: (. as $r | [1, 2] | del(.[$r.d]) | length)
                    repeat: (.str * .n | length)
        """
    static let good = #"{"id":"good-1","a":7,"b":2,"arr":[1,2],"s":0,"f":"%Y","i":1,"d":0,"str":"ab","n":2}"#
    static let bad = [
        #"{"id":"sigfpe","a":1e1000,"b":-1,"arr":[1,2],"s":0,"f":"%Y","i":1,"d":0,"str":"ab","n":2}"#,
        #"{"id":"nan-slice","a":7,"b":2,"arr":[1,2],"s":nan,"f":"%Y","i":1,"d":0,"str":"ab","n":2}"#,
        #"{"id":"strftime","a":7,"b":2,"arr":[1,2],"s":0,"f":1,"i":1,"d":0,"str":"ab","n":2}"#,
        #"{"id":"big-index","a":7,"b":2,"arr":[1,2],"s":0,"f":"%Y","i":999999999,"d":0,"str":"ab","n":2}"#,
        #"{"id":"del-nan","a":7,"b":2,"arr":[1,2],"s":0,"f":"%Y","i":1,"d":nan,"str":"ab","n":2}"#,
        #"{"id":"repeat","a":7,"b":2,"arr":[1,2],"s":0,"f":"%Y","i":1,"d":0,"str":"","n":1000000000}"#,
    ]

    @Test("a resync of a file with every such record: the good ones are written, the bad ones fail, the process lives")
    func resync() async throws {
        let directory = try OceanProcess.temporaryDirectory()
        let records = [Self.good] + Self.bad + [Self.good.replacingOccurrences(of: "good-1", with: "good-2")]
        try (records.joined(separator: "\n") + "\n").write(toFile: directory + "/items.jsonl", atomically: true, encoding: .utf8)
        try Self.mapping.write(toFile: directory + "/mapping.yml", atomically: true, encoding: .utf8)
        let run = try await OceanProcess.run(["resync", "--mapping", "mapping.yml"], environment: [
            "OCEAN__INTEGRATION__TYPE": "jsonl", "OCEAN__INTEGRATION__CONFIG__PATH": directory,
            "OCEAN__RESYNC__JQ_TIME_LIMIT_MS": "300",
        ], directory: directory)
        let output = run.stdout + run.stderr
        // Exit 3 (partial: the kind had failed records), not a signal.
        #expect(run.status == 3, "\(run.status): \(output.suffix(3000))")
        #expect(output.contains("libjq 1.6 crashed on this input"), "\(output.suffix(3000))")
        // The job's own counts: all 8 fetched, the 2 good ones written, each bad one failed alone.
        #expect(output.contains("fetched 8  upserted 2  filtered 0  failed 6"), "\(output.suffix(3000))")
    }

    @Test("webhook deliveries with such records: each fails alone, the service keeps applying the others")
    func webhooks() async throws {
        let directory = try OceanProcess.temporaryDirectory()
        let personMapping = """
            resources:
              - kind: fake-person
                selector:
                  query: 'true'
                port:
                  entity:
                    mappings:
                      identifier: .id
                      blueprint: '"fake-person"'
                      properties:
                        mod: (.a % .b)
                        slice: (.arr[.s:1])
                        time: (. as $r | 0 | strftime($r.f))
                        repeat: (.str * .n | length)
            """
        try personMapping.write(toFile: directory + "/mapping.yml", atomically: true, encoding: .utf8)
        let service = try OceanProcess.start(["serve", "--host", "127.0.0.1", "--port", "0", "--mapping", "mapping.yml"], environment: [
            "OCEAN__RESYNC_ON_START": "false", "OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET": FaultTests.secret,
            "OCEAN__RESYNC__JQ_TIME_LIMIT_MS": "300",
        ], directory: directory)
        let port = try await service.port()
        func person(_ fields: String) -> [UInt8] {
            Array(#"{"action":"upsert","person":{\#(fields),"name":"N","email":"e","age":1,"status":"WORKING","bio":"b","department":{"id":"hr","name":"HR"}}}"#.utf8)
        }
        let deliveries = [
            person(#""id":"hr-sigfpe","a":1e1000,"b":-1,"arr":[1],"s":0,"f":"%Y","str":"a","n":1"#),
            person(#""id":"hr-nan","a":1,"b":1,"arr":[1],"s":nan,"f":"%Y","str":"a","n":1"#),
            person(#""id":"hr-strftime","a":1,"b":1,"arr":[1],"s":0,"f":1,"str":"a","n":1"#),
            person(#""id":"hr-repeat","a":1,"b":1,"arr":[1],"s":0,"f":"%Y","str":"","n":1000000000"#),
            person(#""id":"hr-good","a":7,"b":2,"arr":[1],"s":0,"f":"%Y","str":"a","n":1"#),
        ]
        var statuses: [Int] = []
        for body in deliveries {
            let signature = WebhookSignature.header(body: body, secret: FaultTests.secret)
            statuses.append(try await fetch(port: port, "POST", "/integration/webhook", headers: [("X-Hub-Signature-256", signature)], body: body).status)
        }
        // `nan`, and 1e1000 (beyond a double), are refused at the door as JSON the service does not
        // read; the others are accepted, and fail (or apply) one by one.
        #expect(statuses == [400, 400, 202, 202, 202])
        var good = ""
        for _ in 0..<200 {
            good = try await fetch(port: port, "GET", "/entities?identifier=hr-good").text
            if good.contains("hr-good") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(good.contains(#""mod":1"#), "\(good)")
        #expect(service.process.isRunning, "the service died: \(service.output.suffix(2000))")
        #expect(try await fetch(port: port, "GET", "/health/live").status == 200)
        // The bad deliveries run alongside the good one and may finish after it (one waits out the
        // jq time limit): wait until none is pending.
        var failed = try await fetch(port: port, "GET", "/webhooks/deliveries?limit=10")
        for _ in 0..<200 where failed.text.contains(#""status":"pending""#) {
            try await Task.sleep(for: .milliseconds(100))
            failed = try await fetch(port: port, "GET", "/webhooks/deliveries?limit=10")
        }
        #expect(failed.text.contains("libjq 1.6 crashed"), "\(failed.text)")
        kill(service.process.processIdentifier, SIGTERM)
        _ = try await service.exitStatus(within: .seconds(30))
    }
}

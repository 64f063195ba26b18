// `fake-port [PORT]`: the Port-like API as a process, for `make bench-port` and `make fake-port`.
// Prints its base URL and serves until it is killed. `PORT_LATENCY_MS` (environment) delays every
// answer of Port's API by that many milliseconds, as a remote Port's round trip does.
import FakePort
import Foundation

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 0 : 0
let fake = FakePort(clientID: "bench-client", clientSecret: "bench-secret", port: port)
try await fake.start()
if let latency = ProcessInfo.processInfo.environment["PORT_LATENCY_MS"].flatMap(Int.init), latency > 0 {
    await fake.setLatency(.milliseconds(latency))
}
FileHandle.standardOutput.write(Data((fake.baseURL + "\n").utf8))
while true {
    try await Task.sleep(for: .seconds(3600))
}

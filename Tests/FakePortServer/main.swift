// `fake-port [PORT]`: the Port-like API as a process, for `make bench-port`. Prints its base URL and
// serves until it is killed.
import FakePort
import Foundation

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 0 : 0
let fake = FakePort(clientID: "bench-client", clientSecret: "bench-secret", port: port)
try await fake.start()
FileHandle.standardOutput.write(Data((fake.baseURL + "\n").utf8))
while true {
    try await Task.sleep(for: .seconds(3600))
}

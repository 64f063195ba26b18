import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A response as read off the wire by `TestHTTPConnection`.
public struct TestHTTPResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object, or nil.
    public var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    /// `error.code` of a JSON error body.
    public var errorCode: String? {
        (json?["error"] as? [String: Any])?["code"] as? String
    }
}

/// Why a test connection failed.
public struct TestHTTPError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A blocking HTTP/1.1 client over one TCP connection, for tests: it sends exactly the bytes it is
/// given (so tests can be careless or hostile clients) and parses one response at a time.
/// Blocking calls belong on their own threads: see `onThread`.
public final class TestHTTPConnection: @unchecked Sendable {
    private let socket: Int32
    private var buffer: [UInt8] = []

    /// Connects to `host:port` with read and write timeouts of `timeout` seconds.
    public init(port: Int, host: String = "127.0.0.1", timeout: Double = 10) throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestHTTPError("socket() failed") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - floor(timeout)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw TestHTTPError("connect to \(host):\(port) failed: \(String(cString: strerror(errno)))")
        }
        socket = fd
    }

    deinit { close(socket) }

    /// Sends raw bytes.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw TestHTTPError("send failed: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends one request (with `Host` and, for a body, `Content-Length`) and reads its response.
    public func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) throws -> TestHTTPResponse {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" || method == "PATCH" {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        try send(Array(head.utf8) + body)
        return try readResponse(isHead: method == "HEAD")
    }

    /// Reads one response: status line, headers, and a body by `Content-Length` (or to end of stream).
    public func readResponse(isHead: Bool = false) throws -> TestHTTPResponse {
        let headEnd = try readUntil(Array("\r\n\r\n".utf8))
        let headText = String(decoding: buffer[..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw TestHTTPError("bad status line in \(headText)")
        }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let response = TestHTTPResponse(status: status, headers: headers, body: [])
        var body: [UInt8] = []
        if isHead || status == 204 || status == 304 {
            body = []
        } else if let length = response.header("Content-Length").flatMap(Int.init) {
            try fill(atLeast: length)
            body = Array(buffer[..<length])
            buffer.removeFirst(length)
        } else {
            while try readMore() {}
            body = buffer
            buffer.removeAll()
        }
        return TestHTTPResponse(status: status, headers: headers, body: body)
    }

    /// True when the server closes the connection (end of stream) within the read timeout.
    public func waitForClose() -> Bool {
        (try? readMore()) == false
    }

    /// True when the server has closed the connection already (checked without waiting).
    public func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let count = recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }

    private func readUntil(_ marker: [UInt8]) throws -> Int {
        while true {
            if buffer.count >= marker.count {
                for start in 0...(buffer.count - marker.count) where buffer[start] == marker[0] {
                    if Array(buffer[start..<start + marker.count]) == marker { return start }
                }
            }
            guard try readMore() else { throw TestHTTPError("connection closed before the end of the response head") }
        }
    }

    private func fill(atLeast count: Int) throws {
        while buffer.count < count {
            guard try readMore() else { throw TestHTTPError("connection closed inside the body") }
        }
    }

    /// Reads what is available; false at end of stream.
    private func readMore() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        if count == 0 { return false }
        if count < 0 {
            if errno == ECONNRESET { return false }
            throw TestHTTPError("recv failed: \(String(cString: strerror(errno)))")
        }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }
}

/// Runs blocking work on a thread of its own, so the test does not tie up the cooperative pool
/// (on 2 cores it has 2 threads, and the server's own tasks need them).
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// One request on a new connection.
public func fetch(
    port: Int, _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []
) async throws -> TestHTTPResponse {
    try await onThread {
        let connection = try TestHTTPConnection(port: port)
        return try connection.request(method, path, headers: headers, body: body)
    }
}

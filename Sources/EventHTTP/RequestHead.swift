/// A request head (request line and header fields) as the connection guard reads it off the wire,
/// before evhttp sees a byte of it.
///
/// The rules are RFC 9112's, strictly: evhttp 2.1 is lenient where leniency lets one request hide
/// inside another (request smuggling), so anything two parsers could read differently is refused
/// here with 400 and the connection is closed. Refused: two `Content-Length` fields, a
/// `Content-Length` that is not plain digits, `Content-Length` with `Transfer-Encoding`, a transfer
/// coding other than `chunked`, whitespace between a field name and its colon, folded (obs-fold)
/// lines, control characters, HTTP/1.1 without exactly one `Host`, a request target that is not
/// origin-form (`//x/route` is not `/route`), and any version other than HTTP/1.0 and HTTP/1.1.
struct RequestHead {
    /// How the body is framed.
    enum Body: Equatable {
        case none
        case length(Int)
        case chunked
    }

    /// The method token as sent (`GET`, or an unknown one such as `QUERY`).
    let methodToken: String
    /// The method, when it is one the server knows (case-sensitive: `get` is not `GET`).
    let method: HTTPMethod?
    /// The request target as sent: path and query.
    let target: String
    /// The path part of the target.
    let path: Substring
    let body: Body
    /// `Expect: 100-continue` was sent.
    let expectsContinue: Bool

    /// Parses one head: `bytes` runs from the request line through the empty line that ends it.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxTargetLength: Int, maxHeadersSize: Int) -> Result<RequestHead, HTTPError> {
        var lines = LineReader(bytes)
        guard let requestLine = lines.next() else { return .failure(bad("the request line is missing")) }
        if case .failure(let error) = requestLine { return .failure(error) }
        guard case .success(let line) = requestLine else { return .failure(bad("the request line is missing")) }

        // method SP request-target SP HTTP-version, single spaces.
        guard let firstSpace = line.firstIndex(of: UInt8(ascii: " ")) else {
            return .failure(bad("the request line is malformed"))
        }
        let methodBytes = line[line.startIndex..<firstSpace]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(RequestHead.isTokenByte) else {
            return .failure(bad("the method is malformed"))
        }
        let afterMethod = line[(firstSpace + 1)...]
        guard let secondSpace = afterMethod.firstIndex(of: UInt8(ascii: " ")) else {
            return .failure(bad("the request line is malformed (HTTP/0.9 is not served)"))
        }
        let targetBytes = afterMethod[afterMethod.startIndex..<secondSpace]
        let versionBytes = afterMethod[(secondSpace + 1)...]
        guard versionBytes.elementsEqual("HTTP/1.1".utf8) || versionBytes.elementsEqual("HTTP/1.0".utf8) else {
            if versionBytes.count == 8, versionBytes.starts(with: "HTTP/".utf8),
               versionBytes.dropFirst(5).enumerated().allSatisfy({ $0.offset == 1 ? $0.element == UInt8(ascii: ".") : ($0.element >= 0x30 && $0.element <= 0x39) }) {
                return .failure(HTTPError(.versionNotSupported, "only HTTP/1.0 and HTTP/1.1 are served"))
            }
            return .failure(bad("the request line is malformed"))
        }
        let isHTTP11 = versionBytes.last == UInt8(ascii: "1")
        guard targetBytes.count <= maxTargetLength else {
            return .failure(HTTPError(.uriTooLong, "the request target is longer than \(maxTargetLength) bytes"))
        }
        // Origin-form only: "/" then a path that does not start with a second "/" (evhttp would take
        // "//x/route" as authority "x" and path "/route"); visible ASCII only.
        guard targetBytes.first == UInt8(ascii: "/"),
              targetBytes.dropFirst().first != UInt8(ascii: "/"),
              targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") })
        else {
            return .failure(bad("the request target must be a path starting with a single /"))
        }
        let methodToken = String(decoding: methodBytes, as: UTF8.self)
        let target = String(decoding: targetBytes, as: UTF8.self)
        let path = target.firstIndex(of: "?").map { target[..<$0] } ?? target[...]

        guard bytes.count - lines.position <= maxHeadersSize else {
            return .failure(HTTPError(.headersTooLarge, "the header fields are larger than \(maxHeadersSize) bytes"))
        }
        var contentLength: Int?
        var chunked = false
        var sawTransferEncoding = false
        var hosts = 0
        var expectsContinue = false
        while let next = lines.next() {
            let field: ArraySlice<UInt8>
            switch next {
            case .failure(let error): return .failure(error)
            case .success(let line): field = line
            }
            if field.first == UInt8(ascii: " ") || field.first == UInt8(ascii: "\t") {
                return .failure(bad("folded header lines (obs-fold) are not accepted"))
            }
            guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else {
                return .failure(bad("a header line has no colon"))
            }
            let name = field[field.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(RequestHead.isTokenByte) else {
                return .failure(bad("a header name is malformed (no whitespace before the colon)"))
            }
            let value = trimmed(field[(colon + 1)...])
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                return .failure(bad("a header value holds a control character"))
            }
            if equalsIgnoringCase(name, "content-length") {
                guard contentLength == nil else { return .failure(bad("more than one Content-Length")) }
                guard !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    return .failure(bad("Content-Length must be a plain decimal number"))
                }
                contentLength = value.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            } else if equalsIgnoringCase(name, "transfer-encoding") {
                guard !sawTransferEncoding else { return .failure(bad("more than one Transfer-Encoding")) }
                sawTransferEncoding = true
                guard equalsIgnoringCase(value, "chunked") else {
                    return .failure(HTTPError(.notImplemented, "the only transfer coding served is chunked"))
                }
                chunked = true
            } else if equalsIgnoringCase(name, "host") {
                hosts += 1
            } else if equalsIgnoringCase(name, "expect") {
                guard equalsIgnoringCase(value, "100-continue") else {
                    return .failure(HTTPError(.expectationFailed, "the only expectation served is 100-continue"))
                }
                expectsContinue = true
            }
        }
        if chunked && contentLength != nil {
            return .failure(bad("Content-Length and Transfer-Encoding together"))
        }
        if chunked && !isHTTP11 {
            return .failure(bad("Transfer-Encoding in an HTTP/1.0 request"))
        }
        if isHTTP11 && hosts != 1 {
            return .failure(bad(hosts == 0 ? "an HTTP/1.1 request needs a Host header" : "more than one Host header"))
        }
        let body: Body = chunked ? .chunked : (contentLength ?? 0) > 0 ? .length(contentLength!) : .none
        return .success(RequestHead(
            methodToken: methodToken, method: HTTPMethod(rawValue: methodToken), target: target, path: path,
            body: body, expectsContinue: expectsContinue && body != .none))
    }

    /// Where the head ends in `bytes` (the index just past its empty line), scanning from `offset`;
    /// nil when the empty line has not arrived yet. Lines end in CRLF or, leniently, a bare LF.
    static func endOfHead(in bytes: UnsafeRawBufferPointer, from offset: Int) -> Int? {
        var index = max(offset, 0)
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                // An empty line: "\n\n" or "\n\r\n".
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\r"), bytes[index + 2] == UInt8(ascii: "\n") {
                    return index + 3
                }
            }
            index += 1
        }
        return nil
    }

    /// RFC 9110's `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static func bad(_ message: String) -> HTTPError {
        HTTPError(.badRequest, message)
    }

    private static func trimmed(_ value: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var value = value
        while let first = value.first, first == 0x20 || first == 0x09 { value.removeFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value.removeLast() }
        return value
    }

    static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            var index = 0
            for byte in bytes {
                let lower = (byte >= 65 && byte <= 90) ? byte | 0x20 : byte
                if lower != expected[index] { return false }
                index += 1
            }
            return true
        }
    }
}

/// The lines of a head: each without its line ending; a CR that does not end a line is refused.
private struct LineReader {
    private let bytes: [UInt8]
    /// Where the next line starts.
    private(set) var position = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        bytes = Array(buffer)
    }

    /// The next non-empty line, nil at the empty line that ends the head.
    mutating func next() -> Result<ArraySlice<UInt8>, HTTPError>? {
        guard position < bytes.count, let newline = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        var end = newline
        if end > position, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = bytes[position..<end]
        position = newline + 1
        if line.isEmpty { return nil }
        if line.contains(UInt8(ascii: "\r")) || line.contains(0) {
            return .failure(HTTPError(.badRequest, "a bare CR or NUL in the request head"))
        }
        return .success(line)
    }
}

#if canImport(Glibc)
import Glibc
#endif

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
///
/// Parsing runs on every request, so it reads the bytes in place and makes no strings: the method
/// and the path are made only when they are needed (a request with a body, an unknown method).
struct RequestHead {
    /// How the body is framed.
    enum Body: Equatable {
        case none
        case length(Int)
        case chunked
    }

    /// The method, when it is one the server knows (case-sensitive: `get` is not `GET`).
    let method: HTTPMethod?
    let body: Body
    /// `Expect: 100-continue` was sent.
    let expectsContinue: Bool
    /// The method token and the path (the target up to `?`), as byte ranges of the head.
    private let methodRange: Range<Int>
    private let pathRange: Range<Int>

    /// The method token as sent (`GET`, or an unknown one such as `QUERY`).
    func methodToken(in head: UnsafeRawBufferPointer) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: head[methodRange]), as: UTF8.self)
    }

    /// The path part of the target, still percent-encoded.
    func path(in head: UnsafeRawBufferPointer) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: head[pathRange]), as: UTF8.self)
    }

    /// Parses one head: `bytes` runs from the request line through the empty line that ends it.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxTargetLength: Int, maxHeadersSize: Int) throws(HTTPError) -> RequestHead {
        var position = 0
        guard let requestLine = try nextLine(bytes, &position) else { throw bad("the request line is missing") }

        // method SP request-target SP HTTP-version, single spaces.
        guard let firstSpace = index(of: 0x20, in: bytes, requestLine) else { throw bad("the request line is malformed") }
        let methodRange = requestLine.lowerBound..<firstSpace
        guard !methodRange.isEmpty, methodRange.allSatisfy({ isTokenByte(bytes[$0]) }) else { throw bad("the method is malformed") }
        guard let secondSpace = index(of: 0x20, in: bytes, (firstSpace + 1)..<requestLine.upperBound) else {
            throw bad("the request line is malformed (HTTP/0.9 is not served)")
        }
        let targetRange = (firstSpace + 1)..<secondSpace
        let versionRange = (secondSpace + 1)..<requestLine.upperBound
        let isHTTP11 = try version(bytes, versionRange)
        guard targetRange.count <= maxTargetLength else {
            throw HTTPError(.uriTooLong, "the request target is longer than \(maxTargetLength) bytes")
        }
        // Origin-form only: "/" then a path that does not start with a second "/" (evhttp would take
        // "//x/route" as authority "x" and path "/route"); visible ASCII only.
        guard targetRange.count >= 1, bytes[targetRange.lowerBound] == UInt8(ascii: "/"),
              targetRange.count == 1 || bytes[targetRange.lowerBound + 1] != UInt8(ascii: "/")
        else {
            throw bad("the request target must be a path starting with a single /")
        }
        var pathEnd = targetRange.upperBound
        for index in targetRange {
            let byte = bytes[index]
            guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "#") else {
                throw bad("the request target must be a path starting with a single /")
            }
            if byte == UInt8(ascii: "?"), pathEnd == targetRange.upperBound { pathEnd = index }
        }
        guard bytes.count - position <= maxHeadersSize else {
            throw HTTPError(.headersTooLarge, "the header fields are larger than \(maxHeadersSize) bytes")
        }

        var contentLength: Int?
        var chunked = false
        var sawTransferEncoding = false
        var hosts = 0
        var expectsContinue = false
        while let line = try nextLine(bytes, &position) {
            let first = bytes[line.lowerBound]
            if first == 0x20 || first == 0x09 { throw bad("folded header lines (obs-fold) are not accepted") }
            guard let colon = index(of: UInt8(ascii: ":"), in: bytes, line) else { throw bad("a header line has no colon") }
            let name = line.lowerBound..<colon
            guard !name.isEmpty, name.allSatisfy({ isTokenByte(bytes[$0]) }) else {
                throw bad("a header name is malformed (no whitespace before the colon)")
            }
            var valueStart = colon + 1, valueEnd = line.upperBound
            while valueStart < valueEnd, bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09 { valueStart += 1 }
            while valueEnd > valueStart, bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09 { valueEnd -= 1 }
            let value = valueStart..<valueEnd
            for index in value {
                let byte = bytes[index]
                guard byte == 0x09 || (byte >= 0x20 && byte != 0x7F) else { throw bad("a header value holds a control character") }
            }
            // Only the fields that frame the message matter here; the first letter sorts them out.
            switch bytes[name.lowerBound] | 0x20 {
            case UInt8(ascii: "c") where equalsIgnoringCase(bytes, name, "content-length"):
                guard contentLength == nil else { throw bad("more than one Content-Length") }
                guard !value.isEmpty, value.count <= 18, value.allSatisfy({ bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }) else {
                    throw bad("Content-Length must be a plain decimal number")
                }
                contentLength = value.reduce(0) { $0 * 10 + Int(bytes[$1] - 0x30) }
            case UInt8(ascii: "t") where equalsIgnoringCase(bytes, name, "transfer-encoding"):
                guard !sawTransferEncoding else { throw bad("more than one Transfer-Encoding") }
                sawTransferEncoding = true
                guard equalsIgnoringCase(bytes, value, "chunked") else {
                    throw HTTPError(.notImplemented, "the only transfer coding served is chunked")
                }
                chunked = true
            case UInt8(ascii: "h") where equalsIgnoringCase(bytes, name, "host"):
                hosts += 1
            case UInt8(ascii: "e") where equalsIgnoringCase(bytes, name, "expect"):
                guard equalsIgnoringCase(bytes, value, "100-continue") else {
                    throw HTTPError(.expectationFailed, "the only expectation served is 100-continue")
                }
                expectsContinue = true
            default:
                break
            }
        }
        if chunked && contentLength != nil { throw bad("Content-Length and Transfer-Encoding together") }
        if chunked && !isHTTP11 { throw bad("Transfer-Encoding in an HTTP/1.0 request") }
        if isHTTP11 && hosts != 1 { throw bad(hosts == 0 ? "an HTTP/1.1 request needs a Host header" : "more than one Host header") }
        let body: Body = chunked ? .chunked : (contentLength ?? 0) > 0 ? .length(contentLength!) : .none
        return RequestHead(
            method: knownMethod(bytes, methodRange), body: body, expectsContinue: expectsContinue && body != .none,
            methodRange: methodRange, pathRange: targetRange.lowerBound..<pathEnd)
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

    /// ASCII case-insensitive comparison of `bytes[range]` with a lower-case literal.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            var offset = 0
            for index in range {
                let byte = bytes[index]
                let lower = (byte >= 65 && byte <= 90) ? byte | 0x20 : byte
                if lower != expected[offset] { return false }
                offset += 1
            }
            return true
        }
    }

    /// The same for a byte slice (the reframing of chunked heads).
    static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ lowercase: StaticString) -> Bool {
        bytes.withUnsafeBytes { equalsIgnoringCase($0, 0..<$0.count, lowercase) }
    }

    // MARK: Pieces

    private static func bad(_ message: String) -> HTTPError {
        HTTPError(.badRequest, message)
    }

    /// The next line (without its line ending) from `position`, moving past it; nil at the empty
    /// line that ends the head. A CR that does not end a line, or a NUL, is refused.
    private static func nextLine(_ bytes: UnsafeRawBufferPointer, _ position: inout Int) throws(HTTPError) -> Range<Int>? {
        let start = position
        guard start < bytes.count, let base = bytes.baseAddress,
              let newline = memchr(base + start, 0x0A, bytes.count - start) else { return nil }
        let index = base.distance(to: UnsafeRawPointer(newline))
        var end = index
        if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        position = index + 1
        if end == start { return nil }
        if memchr(base + start, 0x0D, end - start) != nil || memchr(base + start, 0, end - start) != nil {
            throw bad("a bare CR or NUL in the request head")
        }
        return start..<end
    }

    private static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, let base = bytes.baseAddress,
              let found = memchr(base + range.lowerBound, Int32(byte), range.count) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// Whether the version is HTTP/1.1 (else HTTP/1.0); anything else is refused.
    private static func version(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTPError) -> Bool {
        func digit(_ offset: Int) -> Bool { bytes[range.lowerBound + offset] >= 0x30 && bytes[range.lowerBound + offset] <= 0x39 }
        guard range.count == 8, equals(bytes, range.lowerBound..<(range.lowerBound + 5), "HTTP/"),
              digit(5), bytes[range.lowerBound + 6] == UInt8(ascii: "."), digit(7)
        else {
            throw bad("the request line is malformed")
        }
        switch (bytes[range.lowerBound + 5], bytes[range.lowerBound + 7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): return true
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): return false
        default: throw HTTPError(.versionNotSupported, "only HTTP/1.0 and HTTP/1.1 are served")
        }
    }

    /// Exact comparison of `bytes[range]` with a literal.
    private static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        return literal.withUTF8Buffer { expected in
            var offset = 0
            for index in range {
                if bytes[index] != expected[offset] { return false }
                offset += 1
            }
            return true
        }
    }

    /// The method for a token, by its bytes (no string made).
    private static func knownMethod(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> HTTPMethod? {
        func equals(_ literal: StaticString) -> Bool { RequestHead.equals(bytes, range, literal) }
        switch range.count {
        case 3: return equals("GET") ? .get : equals("PUT") ? .put : nil
        case 4: return equals("POST") ? .post : equals("HEAD") ? .head : nil
        case 5: return equals("PATCH") ? .patch : equals("TRACE") ? .trace : nil
        case 6: return equals("DELETE") ? .delete : nil
        case 7: return equals("OPTIONS") ? .options : equals("CONNECT") ? .connect : nil
        default: return nil
        }
    }
}

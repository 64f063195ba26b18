/// Follows a chunked body (RFC 9112 §7.1) byte by byte as it arrives, so the connection guard knows
/// where it ends, how much data it carries, and whether its framing is sound, before evhttp reads it;
/// the data comes out de-chunked (evhttp is handed the body with a `Content-Length`: its own chunked
/// parser refuses chunk extensions and hangs on bad framing).
///
/// Refused: a chunk size that is not hexadecimal or overflows, chunk data longer than its size (the
/// bytes after a chunk's data must be CRLF: evhttp 2.1 hangs on anything else), lines longer than
/// `maxLineLength`, and bare CRs.
struct ChunkedBodyReader {
    private enum State {
        /// Reading a chunk-size line (size, then optional extensions), `line` bytes so far.
        case sizeLine
        /// Inside a chunk's data.
        case data(remaining: Int)
        /// After a chunk's data: expecting CR (`sawCR` false) or the LF after it.
        case dataEnd(sawCR: Bool)
        /// Reading trailer lines after the last chunk, until an empty one.
        case trailers
        case done
    }

    private var state = State.sizeLine
    private var line: [UInt8] = []
    private let maxLineLength: Int
    /// Data bytes so far (chunk sizes added up), what the route's limit and the budget count.
    private(set) var dataLength = 0

    init(maxLineLength: Int = 4096) {
        self.maxLineLength = maxLineLength
    }

    var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// Takes bytes from the start of `bytes`, giving the chunks' data to `data`; returns how many
    /// belong to the body (all of them until the body ends; fewer at its end).
    mutating func consume(_ bytes: UnsafeRawBufferPointer, data: (UnsafeRawBufferPointer) -> Void) -> Result<Int, HTTPError> {
        var index = 0
        while index < bytes.count {
            switch state {
            case .done:
                return .success(index)
            case .data(let remaining):
                let taken = min(remaining, bytes.count - index)
                data(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + taken)]))
                index += taken
                state = remaining == taken ? .dataEnd(sawCR: false) : .data(remaining: remaining - taken)
            case .dataEnd(let sawCR):
                let byte = bytes[index]
                index += 1
                if !sawCR && byte == UInt8(ascii: "\r") {
                    state = .dataEnd(sawCR: true)
                } else if byte == UInt8(ascii: "\n") {
                    state = .sizeLine
                } else {
                    return .failure(HTTPError(.badRequest, "chunk data is longer than its chunk size"))
                }
            case .sizeLine, .trailers:
                let byte = bytes[index]
                index += 1
                guard byte == UInt8(ascii: "\n") else {
                    guard line.count < maxLineLength else {
                        return .failure(HTTPError(.badRequest, "a chunk-size or trailer line is too long"))
                    }
                    line.append(byte)
                    continue
                }
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                guard !line.contains(UInt8(ascii: "\r")), !line.contains(0) else {
                    return .failure(HTTPError(.badRequest, "a bare CR or NUL in the chunked framing"))
                }
                if case .trailers = state {
                    if line.isEmpty { state = .done }
                    line.removeAll(keepingCapacity: true)
                    continue
                }
                switch chunkSize(of: line) {
                case .failure(let error):
                    return .failure(error)
                case .success(let size):
                    line.removeAll(keepingCapacity: true)
                    let (total, overflow) = dataLength.addingReportingOverflow(size)
                    guard !overflow else { return .failure(HTTPError(.payloadTooLarge, "the chunked body is too large")) }
                    dataLength = total
                    state = size == 0 ? .trailers : .data(remaining: size)
                }
            }
        }
        return .success(index)
    }

    /// `1*HEXDIG [ chunk-ext ]`: the size before any `;` extension (or whitespace before it).
    private func chunkSize(of line: [UInt8]) -> Result<Int, HTTPError> {
        var size = 0
        var digits = 0
        for byte in line {
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A")) + 10
            case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\t"):
                return digits > 0 ? .success(size) : .failure(HTTPError(.badRequest, "a chunk size is missing"))
            default:
                return .failure(HTTPError(.badRequest, "a chunk size is not hexadecimal"))
            }
            digits += 1
            guard digits <= 15 else { return .failure(HTTPError(.payloadTooLarge, "a chunk size is too large")) }
            size = size * 16 + value
        }
        return digits > 0 ? .success(size) : .failure(HTTPError(.badRequest, "a chunk size is missing"))
    }
}

extension ChunkedBodyReader {
    /// `chunkedHead`, a chunked request's head, as evhttp gets it: without `Transfer-Encoding`, with
    /// the length of the de-chunked body.
    static func reframed(_ chunkedHead: [UInt8], length: Int) -> [UInt8] {
        var head: [UInt8] = []
        head.reserveCapacity(chunkedHead.count + 32)
        var lineStart = 0
        for index in chunkedHead.indices where chunkedHead[index] == UInt8(ascii: "\n") {
            let line = chunkedHead[lineStart...index]
            lineStart = index + 1
            let name = line.prefix { $0 != UInt8(ascii: ":") }
            if RequestHead.equalsIgnoringCase(name, "transfer-encoding") { continue }
            if line.count <= 2 && line.allSatisfy({ $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) { continue }
            head.append(contentsOf: line)
        }
        head.append(contentsOf: "Content-Length: \(length)\r\n\r\n".utf8)
        return head
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `Date` header of replies (RFC 9110 §5.6.7, the IMF-fixdate form), formatted once a second.
///
/// evhttp adds a `Date` itself when a reply has none, formatting it anew for every reply; at a few
/// tens of thousands of replies a second that was about 3% of a health check's cost.
struct HTTPDate {
    private var second: time_t = -1
    /// The formatted date, NUL-terminated.
    private var text = [CChar](repeating: 0, count: 32)

    private static let days: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months: [StaticString] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Calls `body` with the current date as a C string.
    mutating func withCurrent<Result>(_ body: (UnsafePointer<CChar>) -> Result) -> Result {
        let now = time(nil)
        if now != second { format(now) }
        return text.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private mutating func format(_ now: time_t) {
        second = now
        var seconds = now
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(30)
        func append(_ name: StaticString) {
            name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        }
        func append(_ number: Int32, digits: Int) {
            var divisor: Int32 = 1
            for _ in 1..<digits { divisor *= 10 }
            var value = number
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                value %= divisor
                divisor /= 10
            }
        }
        append(HTTPDate.days[Int(parts.tm_wday) % 7])
        append(", ")
        append(parts.tm_mday, digits: 2)
        append(" ")
        append(HTTPDate.months[Int(parts.tm_mon) % 12])
        append(" ")
        append(parts.tm_year + 1900, digits: 4)
        append(" ")
        append(parts.tm_hour, digits: 2)
        append(":")
        append(parts.tm_min, digits: 2)
        append(":")
        append(parts.tm_sec, digits: 2)
        append(" GMT")
        for (index, byte) in bytes.enumerated() { text[index] = CChar(bitPattern: byte) }
        text[bytes.count] = 0
    }
}

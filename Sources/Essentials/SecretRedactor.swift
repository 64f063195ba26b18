/// Replaces known secret values in text before it is shown anywhere: log lines, error messages, job
/// JSON. A defence in depth: secrets are not put into messages on purpose, but a third-party error
/// or a URL may echo one back, and not always as it was sent: a JSON body echoes it JSON-escaped
/// (`\/` for `/` in some encoders), a URL echoes it percent-encoded. Every such spelling is masked.
///
/// Secrets obtained while the process runs (an access token) are registered with `register(_:)`:
/// every redactor masks them from then on.
public struct SecretRedactor: Sendable {
    /// What a secret is replaced with.
    public static let mask = "[REDACTED]"
    /// Every spelling of every secret given at init, longest first, so a secret that contains
    /// another is replaced whole.
    private let spellings: [String]

    /// Values shorter than 4 characters are ignored: masking them would garble ordinary text.
    public init(_ secrets: [String] = []) {
        spellings = Self.spellings(of: secrets)
    }

    /// True when there is nothing to redact.
    public var isEmpty: Bool { spellings.isEmpty && Self.runtime.current.isEmpty }

    /// `text` with every spelling of every secret replaced by `mask`.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in spellings where result.contains(secret) {
            result = result.replacing(secret, with: Self.mask)
        }
        for secret in Self.runtime.current where result.contains(secret) {
            result = result.replacing(secret, with: Self.mask)
        }
        return result
    }

    /// Whether a setting or field named `name` holds a secret by its name (`API_TOKEN`,
    /// `clientSecret`, `password`, `private-key`, ...), whatever its case and separators.
    public static func isSecretName(_ name: String) -> Bool {
        let normalized = name.uppercased().replacing("-", with: "_")
        let squeezed = normalized.replacing("_", with: "")
        return ["SECRET", "TOKEN", "PASSWORD", "PASSWD", "PRIVATE_KEY", "API_KEY", "APIKEY", "CREDENTIAL", "AUTHORIZATION"]
            .contains { normalized.contains($0) || squeezed.contains($0.replacing("_", with: "")) }
    }

    // MARK: Secrets learnt at run time

    private static let runtime = Locked<[String]>([])

    /// Masks `secret` (in every spelling) in every redactor of the process from now on: for
    /// credentials the process obtains while it runs, such as an access token.
    public static func register(_ secret: String) {
        let added = spellings(of: [secret])
        guard !added.isEmpty else { return }
        runtime.withLock { known in
            guard !known.contains(secret) else { return }
            // Bounded: tokens are renewed for as long as the process runs; the old ones expire.
            if known.count > 400 { known.removeFirst(known.count - 400) }
            known = (known + added.filter { !known.contains($0) }).sorted { $0.utf8.count > $1.utf8.count }
        }
    }

    // MARK: Spellings

    static func spellings(of secrets: [String]) -> [String] {
        var all = Set<String>()
        for secret in secrets where secret.utf8.count >= 4 {
            all.insert(secret)
            let json = jsonEscaped(secret)
            all.insert(json)
            all.insert(json.replacing("/", with: "\\/"))
            let percent = percentEncoded(secret, plusForSpace: false)
            all.insert(percent)
            all.insert(percent.lowercasedPercentEscapes())
            all.insert(percentEncoded(secret, plusForSpace: true))
        }
        return all.sorted { $0.utf8.count > $1.utf8.count }
    }

    /// The secret as a JSON string's content: `"`, `\` and control characters escaped.
    private static func jsonEscaped(_ text: String) -> String {
        var bytes: [UInt8] = []
        JSONText.appendString(text, to: &bytes)
        return String(decoding: bytes.dropFirst().dropLast(), as: UTF8.self)
    }

    /// Percent-encoding of everything but RFC 3986's unreserved characters, upper-case hex.
    private static func percentEncoded(_ text: String, plusForSpace: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                bytes.append(byte)
            case UInt8(ascii: " ") where plusForSpace:
                bytes.append(UInt8(ascii: "+"))
            default:
                bytes.append(contentsOf: [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    /// `%2F` as `%2f`: some encoders write lower-case hex.
    fileprivate func lowercasedPercentEscapes() -> String {
        var bytes = Array(utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count {
                for offset in 1...2 where bytes[index + offset] >= UInt8(ascii: "A") && bytes[index + offset] <= UInt8(ascii: "F") {
                    bytes[index + offset] |= 0x20
                }
                index += 3
            } else {
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Replaces known secret values in text before it is shown anywhere: log lines, error messages, job
/// JSON. A defence in depth: secrets are not put into messages on purpose, but a third-party error
/// or a URL may echo one back.
public struct SecretRedactor: Sendable {
    /// What a secret is replaced with.
    public static let mask = "[REDACTED]"
    /// Longest first, so a secret that contains another is replaced whole.
    private let secrets: [String]

    /// Values shorter than 4 characters are ignored: masking them would garble ordinary text.
    public init(_ secrets: [String] = []) {
        self.secrets = Set(secrets.filter { $0.utf8.count >= 4 }).sorted { $0.utf8.count > $1.utf8.count }
    }

    /// True when there is nothing to redact.
    public var isEmpty: Bool { secrets.isEmpty }

    /// `text` with every secret replaced by `mask`.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacing(secret, with: Self.mask)
        }
        return result
    }
}

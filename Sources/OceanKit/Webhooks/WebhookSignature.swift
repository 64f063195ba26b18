import Crypto
import Essentials
import Foundation

/// HMAC-SHA256 webhook signatures as GitHub, Jira and many others send them
/// (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`).
public enum WebhookSignature {
    /// `sha256=<hex>` for `body` signed with `secret`.
    public static func header(body: [UInt8], secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
    }

    /// Constant-time check of a `sha256=<hex>` header.
    public static func matches(header: String, body: [UInt8], secret: String) -> Bool {
        ConstantTime.equal(Array(Self.header(body: body, secret: secret).utf8), Array(header.lowercased().utf8))
    }
}

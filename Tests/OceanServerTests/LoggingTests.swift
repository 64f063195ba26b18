import Essentials
import Foundation
import Logging
import OceanServer
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The service's log lines: JSON for collectors, text for people, secrets scrubbed in both.
@Suite("log lines")
struct LoggingTests {
    /// Logs through a handler writing into a pipe; returns what it wrote.
    static func lines(_ style: LineLogHandler.Style, secrets: [String], _ body: (Logger) -> Void) throws -> [String] {
        var descriptors: [Int32] = [0, 0]
        #expect(pipe(&descriptors) == 0)
        var handler = LineLogHandler(label: "ocean", style: style, redactor: SecretRedactor(secrets), output: descriptors[1])
        handler.logLevel = .debug
        body(Logger(label: "ocean") { _ in handler })
        close(descriptors[1])
        let text = String(decoding: PipeReading.readAll(FileHandle(fileDescriptor: descriptors[0], closeOnDealloc: true)), as: UTF8.self)
        return text.split(separator: "\n").map(String.init)
    }

    @Test("JSON lines: one object per line with time, level, message and metadata; secrets masked")
    func json() throws {
        let lines = try Self.lines(.json, secrets: ["hunter22"]) { logger in
            var logger = logger
            logger[metadataKey: "job.id"] = "job_1"
            logger.info("job started")
            logger.debug("request answered", metadata: ["request.id": "abc-0-1", "error": "token hunter22 refused\n\"quoted\""])
            logger.trace("not shown at debug")
        }
        #expect(lines.count == 2)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["level"] as? String == "info")
        #expect(first["message"] as? String == "job started")
        #expect(first["job.id"] as? String == "job_1")
        #expect((first["time"] as? String)?.hasSuffix("Z") == true)
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["request.id"] as? String == "abc-0-1")
        #expect(second["error"] as? String == "token [REDACTED] refused\n\"quoted\"")
        #expect(!lines.joined().contains("hunter22"))
    }

    @Test("text lines: readable, metadata as key=value, secrets masked")
    func text() throws {
        let lines = try Self.lines(.text, secrets: ["hunter22"]) { logger in
            logger.warning("reporting failed", metadata: ["error": "hunter22 is wrong"])
        }
        #expect(lines.count == 1)
        #expect(lines[0].contains(" warning ocean: reporting failed error=[REDACTED] is wrong"))
    }

    @Test("the redactor masks the longest secret first and leaves short values alone")
    func redactor() {
        let redactor = SecretRedactor(["abcd", "abcdefgh", "xy"])
        #expect(redactor.redact("key abcdefgh and abcd and xy") == "key [REDACTED] and [REDACTED] and xy")
        #expect(SecretRedactor().isEmpty)
    }
}

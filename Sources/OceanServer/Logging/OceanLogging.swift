import Essentials
public import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The process's logging, set up once from the settings.
public enum OceanLogging {
    /// Bootstraps swift-log: lines on standard error, JSON unless standard error is a terminal (or as
    /// `APPLICATION__LOG_FORMAT` says), at `APPLICATION__LOG_LEVEL`, every known secret scrubbed.
    /// Logs the settings' warnings and returns the service's logger.
    public static func bootstrap(_ settings: ServiceSettings) -> Logger {
        let format = settings.logFormat
        let level = settings.logLevel
        let redactor = SecretRedactor(settings.secrets)
        let json = format == .json || (format == .auto && isatty(STDERR_FILENO) != 1)
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, style: json ? .json : .text, redactor: redactor)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ocean")
        for warning in settings.warnings {
            logger.warning("configuration warning", metadata: ["warning": "\(warning)"])
        }
        return logger
    }
}

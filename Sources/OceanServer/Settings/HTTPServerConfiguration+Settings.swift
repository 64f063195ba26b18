public import EventHTTP

extension HTTPServerConfiguration {
    /// The server's settings: `APPLICATION__HOST`, `APPLICATION__PORT` and `OCEAN__HTTP__*`.
    public init(reader: SettingsReader) {
        self.init()
        host = reader["APPLICATION__HOST"] ?? host
        port = reader.integer("APPLICATION__PORT", in: 0...65535) ?? port
        eventLoops = reader.integer("OCEAN__HTTP__EVENT_LOOPS", in: 1...64) ?? eventLoops
        maxBodySize = reader.integer("OCEAN__HTTP__MAX_BODY_SIZE", in: 1...(1 << 30)) ?? maxBodySize
        maxHeadersSize = reader.integer("OCEAN__HTTP__MAX_HEADERS_SIZE", in: 1024...(1 << 20)) ?? maxHeadersSize
        connectionTimeoutSeconds = reader.integer("OCEAN__HTTP__TIMEOUT_SECONDS", in: 1...3600) ?? connectionTimeoutSeconds
        shutdownGracePeriod = reader.seconds("OCEAN__HTTP__SHUTDOWN_GRACE_SECONDS", in: 0...3600) ?? shutdownGracePeriod
        headerTimeout = reader.seconds("OCEAN__HTTP__HEADER_TIMEOUT_SECONDS", in: 1...600) ?? headerTimeout
        bodyTimeout = reader.seconds("OCEAN__HTTP__BODY_TIMEOUT_SECONDS", in: 1...3600) ?? bodyTimeout
        maxConnections = reader.integer("OCEAN__HTTP__MAX_CONNECTIONS", in: 1...1_000_000) ?? maxConnections
        maxBufferedBodyBytes = reader.integer("OCEAN__HTTP__MAX_BUFFERED_BODY_BYTES", in: (1 << 20)...(16 << 30)) ?? maxBufferedBodyBytes
    }
}

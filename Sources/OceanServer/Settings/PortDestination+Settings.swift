extension ServiceSettings.PortDestination {
    /// Port's settings, `OCEAN__PORT__*`; nil when neither credential is set (the catalog is then
    /// the destination). One credential without the other is a problem.
    public init?(reader: SettingsReader) {
        switch (reader["OCEAN__PORT__CLIENT_ID"], reader["OCEAN__PORT__CLIENT_SECRET"]) {
        case (let id?, let secret?):
            self.init(clientID: id, clientSecret: secret)
            reader.secrets.append(secret)
        case (nil, nil):
            return nil
        case (nil, _):
            reader.fail("OCEAN__PORT__CLIENT_ID", "is required when OCEAN__PORT__CLIENT_SECRET is set")
            return nil
        case (_, nil):
            reader.fail("OCEAN__PORT__CLIENT_SECRET", "is required when OCEAN__PORT__CLIENT_ID is set")
            return nil
        }
        if let url = reader["OCEAN__PORT__BASE_URL"] {
            if url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 {
                baseURL = url
            } else {
                reader.fail("OCEAN__PORT__BASE_URL", "must be an http:// or https:// URL, got \"\(url.prefix(60))\"")
            }
        }
        maxConcurrentRequests = reader.integer("OCEAN__PORT__MAX_CONCURRENT_REQUESTS", in: 1...256) ?? maxConcurrentRequests
        timeout = reader.seconds("OCEAN__PORT__TIMEOUT_SECONDS", in: 1...600) ?? timeout
    }
}

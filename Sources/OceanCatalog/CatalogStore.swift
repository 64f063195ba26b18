import Foundation
import GRDB
import OceanKit
public import OceanEngine

/// The embedded catalog: entities (the default destination) and job history, in one SQLite file.
///
/// WAL mode: readers (`GET /entities`, `GET /jobs` after a restart) never wait for a resync that is
/// writing. Each batch of entities is one transaction.
public final class CatalogStore: ReconcilingSink, JobStore, WriteLog, WriteDigests, DeliveryStore, Sendable {
    public let name = "catalog"
    public var destinationIdentity: String { "catalog" }
    public let path: String
    private let pool: DatabasePool
    /// The file as opened (device and inode): a write into a file that was since removed or
    /// replaced succeeds and is lost, so durability is checked against it.
    private let identity: FileIdentity

    /// Opens (creating when needed) the catalog at `path`, creating its folder too.
    public init(path: String) throws(CatalogError) {
        self.path = path
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !folder.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw CatalogError("cannot create the catalog folder \(folder): \(error.localizedDescription)")
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL plus NORMAL: durable at each checkpoint, and a batch costs no fsync of its own.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try CatalogStore.migrator.migrate(pool)
        } catch {
            throw CatalogError("cannot open the catalog \(path): \(error)")
        }
        guard let identity = FileIdentity(path: path) else { throw CatalogError("cannot stat the catalog \(path)") }
        self.identity = identity
    }

    /// Throws unless the file written to is still the file at `path` (not removed or replaced).
    private func checkStillOnDisk() throws {
        guard let current = FileIdentity(path: path) else {
            throw CatalogError("the catalog file \(path) is gone: writes to it would be lost")
        }
        guard current == identity else {
            throw CatalogError("the catalog file \(path) was replaced: writes to the open file would be lost")
        }
    }

    /// Why nothing can be stored durably now (nil when a write goes through): the file is gone or
    /// replaced, the disk is full, the file or folder is read-only.
    public func storageProblem() async -> String? {
        do {
            try checkStillOnDisk()
            try await pool.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO health (id, checked_at) VALUES (1, ?)", arguments: [Date().timeIntervalSince1970])
            }
            try checkStillOnDisk()
            return nil
        } catch {
            return "the catalog \(path) cannot be written: \(error)"
        }
    }

    /// The catalog's schema, one registered migration per change (GRDB records which ran). A new
    /// column or table is a new migration appended here, never an edit of one that shipped.
    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        // The schema as it stood when migrations were introduced; it also brings catalogs from
        // before then (no migration table yet) up to it.
        migrator.registerMigration("catalog-1", migrate: createInitialSchema)
        // What the service remembers across restarts (the last resync request of Port's acted on).
        migrator.registerMigration("catalog-2") { db in
            try db.execute(sql: "CREATE TABLE service_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
        }
        // What was last written of each entity, so unchanged ones are not sent again.
        migrator.registerMigration("catalog-3") { db in
            try db.execute(sql: """
                CREATE TABLE entity_digests (
                    integration TEXT NOT NULL, blueprint TEXT NOT NULL, identifier TEXT NOT NULL, digest TEXT NOT NULL,
                    PRIMARY KEY (integration, blueprint, identifier)
                ) WITHOUT ROWID
                """)
        }
        return migrator
    }

    private static func createInitialSchema(_ db: Database) throws {
        // Catalogs from before ordering keys were stored get the column (existing rows: one key).
        if try db.tableExists("deliveries"), try !db.columns(in: "deliveries").contains(where: { $0.name == "ordering_key" }) {
            try db.execute(sql: "ALTER TABLE deliveries ADD COLUMN ordering_key TEXT NOT NULL DEFAULT ''")
        }
        // Catalogs from before idempotency keys.
        if try db.tableExists("deliveries"), try !db.columns(in: "deliveries").contains(where: { $0.name == "idempotency_key" }) {
            try db.execute(sql: "ALTER TABLE deliveries ADD COLUMN idempotency_key TEXT")
        }
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS entities (
                blueprint TEXT NOT NULL,
                identifier TEXT NOT NULL,
                title TEXT,
                team TEXT,
                icon TEXT,
                properties TEXT NOT NULL DEFAULT '{}',
                relations TEXT NOT NULL DEFAULT '{}',
                integration TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                job_id TEXT,
                PRIMARY KEY (blueprint, identifier)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS entities_by_owner ON entities (integration, blueprint);
            CREATE TABLE IF NOT EXISTS jobs (
                id TEXT PRIMARY KEY,
                created_at TEXT NOT NULL,
                status TEXT NOT NULL,
                body TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS jobs_by_age ON jobs (created_at);
            CREATE TABLE IF NOT EXISTS deliveries (
                id TEXT PRIMARY KEY,
                accepted_at REAL NOT NULL,
                status TEXT NOT NULL,
                next_attempt_at REAL NOT NULL,
                ordering_key TEXT NOT NULL,
                body TEXT NOT NULL,
                idempotency_key TEXT
            );
            CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries (status, accepted_at);
            CREATE INDEX IF NOT EXISTS deliveries_by_key ON deliveries (ordering_key, status, accepted_at);
            CREATE INDEX IF NOT EXISTS deliveries_by_age ON deliveries (accepted_at, id);
            CREATE INDEX IF NOT EXISTS deliveries_by_idempotency_key ON deliveries (idempotency_key) WHERE idempotency_key IS NOT NULL;
            CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY, checked_at REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS job_writes (
                job_id TEXT NOT NULL,
                blueprint TEXT NOT NULL,
                identifier TEXT NOT NULL,
                PRIMARY KEY (job_id, blueprint, identifier)
            ) WITHOUT ROWID;
            """)
    }

    // MARK: Entities

    private static func upsertSQL(merge: Bool) -> String {
        let properties = merge ? "json_patch(entities.properties, excluded.properties)" : "excluded.properties"
        let relations = merge ? "json_patch(entities.relations, excluded.relations)" : "excluded.relations"
        return """
            INSERT INTO entities (blueprint, identifier, title, team, icon, properties, relations, integration, updated_at, job_id)
            SELECT ?1, ?2, ?3 ->> '$.title', ?3 -> '$.team', ?3 ->> '$.icon',
                   coalesce(?3 -> '$.properties', '{}'), coalesce(?3 -> '$.relations', '{}'), ?4, ?5, ?6
            WHERE true
            ON CONFLICT (blueprint, identifier) DO UPDATE SET
                title = excluded.title, team = excluded.team, icon = excluded.icon,
                properties = \(properties), relations = \(relations),
                integration = excluded.integration, updated_at = excluded.updated_at, job_id = excluded.job_id
            """
    }

    private static let mergeSQL = upsertSQL(merge: true)
    private static let replaceSQL = upsertSQL(merge: false)

    public func upsert(_ entities: [MappedEntity], options: UpsertOptions) async throws -> UpsertOutcome {
        guard !entities.isEmpty else { return UpsertOutcome(upserted: 0) }
        let timestamp = ISO8601.now()
        try await pool.write { db in
            let statement = try db.cachedStatement(sql: options.merge ? CatalogStore.mergeSQL : CatalogStore.replaceSQL)
            for entity in entities {
                try statement.execute(arguments: [
                    entity.blueprint, entity.identifier, String(decoding: entity.json, as: UTF8.self),
                    options.integrationIdentifier, timestamp, options.jobID,
                ])
            }
        }
        return UpsertOutcome(upserted: entities.count)
    }

    /// Entities of `blueprint` (all blueprints when nil), only `identifier` when given, as JSON texts
    /// in Port's shape plus `updatedAt`, ordered by identifier.
    public func entities(blueprint: String?, identifier: String? = nil, limit: Int) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT json_object('identifier', identifier, 'title', title, 'blueprint', blueprint,
                                   'team', json(team), 'icon', icon, 'properties', json(properties),
                                   'relations', json(relations), 'updatedAt', updated_at)
                FROM entities WHERE (?1 IS NULL OR blueprint = ?1) AND (?2 IS NULL OR identifier = ?2)
                ORDER BY blueprint, identifier LIMIT ?3
                """, arguments: [blueprint, identifier, limit])
        }
    }

    /// How many entities `blueprint` has (all blueprints when nil).
    public func entityCount(blueprint: String? = nil) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM entities WHERE ?1 IS NULL OR blueprint = ?1", arguments: [blueprint]) ?? 0
        }
    }

    // MARK: Reconciliation

    /// The counts only: the catalog tells what a job did not write by itself, at the end.
    public func ownedAtStart(integration: String) async throws -> OwnedEntities {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT blueprint, count(*) AS n FROM entities WHERE integration = ? GROUP BY blueprint",
                                        arguments: [integration])
            return OwnedEntities(counts: Dictionary(uniqueKeysWithValues: rows.map { ($0["blueprint"] as String, $0["n"] as Int) }))
        }
    }

    /// Entities of each blueprint owned by `integration` that `jobID` did not write (every write,
    /// and every entity found unchanged, stamps the entity with its job).
    public func staleIdentifiers(blueprints: Set<String>, integration: String, jobID: String, ownedAtStart: OwnedEntities) async throws -> [String: [String]] {
        try await pool.read { db in
            var stale: [String: [String]] = [:]
            for blueprint in blueprints {
                stale[blueprint] = try String.fetchAll(db, sql: """
                    SELECT identifier FROM entities
                    WHERE integration = ? AND blueprint = ? AND (job_id IS NULL OR job_id != ?) ORDER BY identifier
                    """, arguments: [integration, blueprint, jobID])
            }
            return stale
        }
    }

    /// Deletes the given entities of `blueprint` that `integration` owns (never another
    /// integration's). The catalog keeps no relation graph, so `deleteDependents` has no effect here.
    public func delete(blueprint: String, identifiers: [String], integration: String, deleteDependents: Bool) async throws -> Int {
        guard !identifiers.isEmpty else { return 0 }
        return try await pool.write { db in
            let statement = try db.cachedStatement(sql: "DELETE FROM entities WHERE blueprint = ? AND identifier = ? AND integration = ?")
            var deleted = 0
            for identifier in identifiers {
                try statement.execute(arguments: [blueprint, identifier, integration])
                deleted += db.changesCount
            }
            return deleted
        }
    }

    /// Stamps the entities with the job (the job saw them, unchanged); returns the ones the catalog
    /// does not hold (deleted behind the service's back), which must be written.
    public func confirmUnchanged(_ entities: [MappedEntity], options: UpsertOptions) async throws -> [MappedEntity] {
        guard !entities.isEmpty else { return [] }
        return try await pool.write { db in
            let statement = try db.cachedStatement(sql: "UPDATE entities SET job_id = ? WHERE blueprint = ? AND identifier = ? AND integration = ?")
            var missing: [MappedEntity] = []
            for entity in entities {
                try statement.execute(arguments: [options.jobID, entity.blueprint, entity.identifier, options.integrationIdentifier])
                if db.changesCount == 0 { missing.append(entity) }
            }
            return missing
        }
    }

    // MARK: Service state

    /// The value stored under `key`, nil when none is.
    public func stateValue(_ key: String) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM service_state WHERE key = ?", arguments: [key]) }
    }

    /// Stores `value` under `key` (durably, before it returns).
    public func setStateValue(_ value: String, for key: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO service_state (key, value) VALUES (?, ?)", arguments: [key, value])
        }
    }

    // MARK: Digests of what was written

    public func digests(integration: String, blueprint: String, identifiers: [String]) async throws -> [String: String] {
        guard !identifiers.isEmpty else { return [:] }
        return try await pool.read { db in
            let statement = try db.cachedStatement(sql: "SELECT digest FROM entity_digests WHERE integration = ? AND blueprint = ? AND identifier = ?")
            var found: [String: String] = [:]
            for identifier in identifiers {
                if let digest = try String.fetchOne(statement, arguments: [integration, blueprint, identifier]) { found[identifier] = digest }
            }
            return found
        }
    }

    public func record(integration: String, blueprint: String, digests: [(identifier: String, digest: String)]) async throws {
        guard !digests.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO entity_digests (integration, blueprint, identifier, digest) VALUES (?, ?, ?, ?)")
            for entry in digests { try statement.execute(arguments: [integration, blueprint, entry.identifier, entry.digest]) }
        }
    }

    /// Drops every digest of `blueprints` (they were created anew: nothing in them was written).
    public func forgetDigests(integration: String, blueprints: [String]) async throws {
        guard !blueprints.isEmpty else { return }
        try await pool.write { db in
            for blueprint in blueprints {
                try db.execute(sql: "DELETE FROM entity_digests WHERE integration = ? AND blueprint = ?", arguments: [integration, blueprint])
            }
        }
    }

    public func forget(integration: String, blueprint: String, identifiers: [String]) async throws {
        guard !identifiers.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(sql: "DELETE FROM entity_digests WHERE integration = ? AND blueprint = ? AND identifier = ?")
            for identifier in identifiers { try statement.execute(arguments: [integration, blueprint, identifier]) }
        }
    }

    // MARK: Write log (for destinations that cannot tell what a job wrote)

    public func record(jobID: String, blueprint: String, identifiers: [String]) async throws {
        guard !identifiers.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(sql: "INSERT OR IGNORE INTO job_writes (job_id, blueprint, identifier) VALUES (?, ?, ?)")
            for identifier in identifiers { try statement.execute(arguments: [jobID, blueprint, identifier]) }
        }
    }

    public func written(jobID: String, blueprint: String, among identifiers: [String]) async throws -> Set<String> {
        guard !identifiers.isEmpty else { return [] }
        return try await pool.read { db in
            var found = Set<String>()
            let statement = try db.cachedStatement(sql: "SELECT 1 FROM job_writes WHERE job_id = ? AND blueprint = ? AND identifier = ?")
            for identifier in identifiers where try Int.fetchOne(statement, arguments: [jobID, blueprint, identifier]) != nil {
                found.insert(identifier)
            }
            return found
        }
    }

    public func forget(jobID: String) async throws {
        try await pool.write { db in try db.execute(sql: "DELETE FROM job_writes WHERE job_id = ?", arguments: [jobID]) }
    }

    // MARK: Webhook deliveries

    private static let deliveryEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }()

    private static let deliveryDecoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()

    /// The row of a delivery: id, accepted at, status, next attempt at, ordering key, the delivery as JSON.
    private func stored(_ delivery: Delivery) throws -> [String: (any DatabaseValueConvertible & Sendable)] {
        ["id": delivery.id, "accepted": delivery.acceptedAt.timeIntervalSince1970, "status": delivery.status.rawValue,
         "next": delivery.nextAttemptAt.timeIntervalSince1970, "key": delivery.orderingKey,
         "idempotency": delivery.idempotencyKey,
         "body": String(decoding: try Self.deliveryEncoder.encode(delivery), as: UTF8.self)]
    }

    private static let upsertDeliverySQL = """
        INSERT OR REPLACE INTO deliveries (id, accepted_at, status, next_attempt_at, ordering_key, idempotency_key, body)
        VALUES (:id, :accepted, :status, :next, :key, :idempotency, :body)
        """

    private func decodeDeliveries(_ bodies: [String]) throws -> [Delivery] {
        try bodies.map { try Self.deliveryDecoder.decode(Delivery.self, from: Data($0.utf8)) }
    }

    /// Durable when it returns: the write is committed (WAL) before the delivery is acknowledged,
    /// into the file that is still at `path`.
    public func insert(_ delivery: Delivery) async throws {
        let values = try stored(delivery)
        try await pool.write { db in
            try db.execute(sql: Self.upsertDeliverySQL, arguments: StatementArguments(values))
        }
        try checkStillOnDisk()
    }

    public func delivery(idempotencyKey: String) async throws -> Delivery? {
        let body = try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT body FROM deliveries WHERE idempotency_key = ? LIMIT 1", arguments: [idempotencyKey])
        }
        return try body.map { try Self.deliveryDecoder.decode(Delivery.self, from: Data($0.utf8)) }
    }

    public func waiting() async throws -> [Delivery] {
        let bodies = try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM deliveries WHERE status IN ('pending', 'failed') ORDER BY accepted_at, id")
        }
        return try decodeDeliveries(bodies)
    }

    public func update(_ delivery: Delivery) async throws {
        let values = try stored(delivery)
        try await pool.write { db in
            try db.execute(sql: Self.upsertDeliverySQL, arguments: StatementArguments(values))
        }
    }

    public func delivery(_ id: String) async throws -> Delivery? {
        let body = try await pool.read { db in try String.fetchOne(db, sql: "SELECT body FROM deliveries WHERE id = ?", arguments: [id]) }
        return try body.map { try Self.deliveryDecoder.decode(Delivery.self, from: Data($0.utf8)) }
    }

    public func list(status: Delivery.Status?, limit: Int) async throws -> [Delivery] {
        // Two statements, each served by an index (an `OR` on the status would scan every row).
        let bodies = try await pool.read { db in
            if let status {
                return try String.fetchAll(db, sql: """
                    SELECT body FROM deliveries WHERE status = ? ORDER BY accepted_at DESC, id DESC LIMIT ?
                    """, arguments: [status.rawValue, limit])
            }
            return try String.fetchAll(db, sql: """
                SELECT body FROM deliveries ORDER BY accepted_at DESC, id DESC LIMIT ?
                """, arguments: [limit])
        }
        return try decodeDeliveries(bodies)
    }

    /// Pending and failed deliveries (the queue's depth as stored).
    public func queuedCount() async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'failed')") ?? 0
        }
    }

    public func prune(keepFinished: Int) async throws {
        try await pool.write { db in
            try db.execute(sql: """
                DELETE FROM deliveries WHERE id IN (
                    SELECT id FROM deliveries WHERE status IN ('done', 'dead') ORDER BY accepted_at DESC LIMIT -1 OFFSET ?)
                """, arguments: [keepFinished])
        }
    }

    // MARK: Jobs

    public func save(_ job: Job, limit: Int) async throws {
        let body = String(decoding: try Job.encoder.encode(job), as: UTF8.self)
        let created = ISO8601.string(job.createdAt)
        try await pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO jobs (id, created_at, status, body) VALUES (?, ?, ?, ?)",
                           arguments: [job.id, created, job.status.rawValue, body])
            try db.execute(sql: """
                DELETE FROM jobs WHERE id IN (
                    SELECT id FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled')
                    ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?)
                """, arguments: [limit])
        }
    }

    public func load(limit: Int) async throws -> [Job] {
        let bodies = try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?", arguments: [limit])
        }
        return try bodies.map { try Job.decoder.decode(Job.self, from: Data($0.utf8)) }
    }
}

/// The catalog could not be opened or written.
public struct CatalogError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// ISO 8601 timestamps with milliseconds, UTC.
enum ISO8601 {
    static func now() -> String { string(Date()) }

    static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// A file's device and inode: the same path may come to name another file.
struct FileIdentity: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

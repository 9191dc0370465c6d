import BatonEngine
import BatonModel
import BatonPlan
import Foundation
import Logging
import PostgresNIO

/// Baton's tables in PostgreSQL: made on first use, migrated in place, a newer one refused.
extension PostgresJournal {
    // MARK: Schema

    /// The schema's history, oldest first: each migration named as the SQLite journal's are
    /// (GRDB's migrator), applied once in order and recorded by name in
    /// `baton.schema_migrations`. A database that records a name this Baton does not know was
    /// written by a newer one and is refused. Add a migration at the end; never change one.
    static let migrations: [(name: String, statements: [String])] = [
        (
            "v1",
            [
                """
                CREATE TABLE run (id TEXT PRIMARY KEY, organization TEXT NOT NULL, package TEXT NOT NULL,
                    inventory TEXT NOT NULL, state TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, plan TEXT NOT NULL,
                    before TEXT NOT NULL DEFAULT '{}', release_notes TEXT, target TEXT NOT NULL DEFAULT 'lab',
                    inventory_text TEXT)
                """,
                """
                CREATE TABLE step (run TEXT NOT NULL REFERENCES run(id), id TEXT NOT NULL, action TEXT NOT NULL,
                    position INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    message TEXT NOT NULL DEFAULT '', output TEXT, PRIMARY KEY (run, id))
                """,
                """
                CREATE TABLE transition (sequence BIGSERIAL PRIMARY KEY, run TEXT NOT NULL, step TEXT, state TEXT NOT NULL,
                    at DOUBLE PRECISION NOT NULL, message TEXT NOT NULL DEFAULT '')
                """,
                "CREATE INDEX transition_by_run ON transition (run, sequence)",
                """
                CREATE TABLE approval (run TEXT NOT NULL, gate TEXT NOT NULL, approver TEXT NOT NULL,
                    at DOUBLE PRECISION NOT NULL, how TEXT NOT NULL, os_user TEXT NOT NULL, PRIMARY KEY (run, gate))
                """,
                """
                CREATE TABLE token (hash TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
                    created DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION, last_used DOUBLE PRECISION)
                """,
                """
                CREATE TABLE audit (sequence BIGSERIAL PRIMARY KEY, run TEXT NOT NULL, action TEXT NOT NULL,
                    actor TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)
                """,
                """
                CREATE TABLE lease (run TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
                    process_start BIGINT NOT NULL, instance TEXT NOT NULL, epoch BIGINT NOT NULL,
                    heartbeat DOUBLE PRECISION NOT NULL, acquired DOUBLE PRECISION NOT NULL, expiry DOUBLE PRECISION NOT NULL)
                """,
                "CREATE TABLE claim (resource TEXT PRIMARY KEY, run TEXT NOT NULL, label TEXT NOT NULL)",
                """
                CREATE TABLE lab_twin (id INTEGER PRIMARY KEY CHECK (id = 1), twin TEXT NOT NULL,
                    saved DOUBLE PRECISION NOT NULL)
                """,
            ]
        ),
        (
            "v2: named twins, each a snapshot and the actions since; the twin a run acts on",
            [
                "CREATE TABLE twin (name TEXT PRIMARY KEY, snapshot TEXT NOT NULL, saved DOUBLE PRECISION NOT NULL)",
                "INSERT INTO twin (name, snapshot, saved) SELECT 'default', twin, saved FROM lab_twin",
                "DROP TABLE lab_twin",
                """
                CREATE TABLE twin_action (twin TEXT NOT NULL, sequence INTEGER NOT NULL, step TEXT NOT NULL,
                    PRIMARY KEY (twin, sequence))
                """,
                "ALTER TABLE run ADD COLUMN twin TEXT",
            ]
        ),
        // Each step's JSON beside its state, the run's plan without its steps (a resume reads
        // only the steps left to do); runs kept before keep their whole plan.
        ("v3: each step kept on its own", ["ALTER TABLE step ADD COLUMN detail TEXT"]),
        (
            "v4: a finished run's report kept, the rule behind each failure",
            ["ALTER TABLE run ADD COLUMN report TEXT", "ALTER TABLE transition ADD COLUMN rule TEXT"]
        ),
        (
            "v5: notifications owed to each receiver",
            [
                """
                CREATE TABLE delivery (run TEXT NOT NULL, receiver TEXT NOT NULL, settings TEXT NOT NULL,
                    delivered BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    next_try DOUBLE PRECISION NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
                    holder_host TEXT, holder_pid INTEGER, holder_start BIGINT, holder_instance TEXT,
                    held_until DOUBLE PRECISION NOT NULL DEFAULT 0, PRIMARY KEY (run, receiver))
                """
            ]
        ),
    ]

    static func prepareSchema(_ client: PostgresClient, location: String) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(LockKey.schema.rawValue))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS baton", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (identifier TEXT PRIMARY KEY)", logger: logger)
            try await adoptNumberedVersion(connection)
            let applied = Set(
                try await connection.query("SELECT identifier FROM schema_migrations", logger: logger)
                    .collect().map { try $0.decode(String.self) })
            let known = Set(migrations.map(\.name))
            if let unknown = applied.subtracting(known).sorted().first {
                throw JournalError.newer(
                    location: location,
                    detail: "its schema has migration '\(unknown)'; this one knows up to '\(migrations.last!.name)'")
            }
            for migration in migrations where !applied.contains(migration.name) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (identifier) VALUES (\(migration.name))", logger: logger)
            }
        }
    }

    /// Journals made before migrations were named kept one number, `baton.schema_version`:
    /// version N means the first N migrations. Recorded by name instead, once; a number beyond
    /// the migrations this Baton knows was written by a newer one and is refused by name.
    static func adoptNumberedVersion(_ connection: PostgresConnection) async throws {
        let numbered =
            try await connection.query(
                "SELECT to_regclass('baton.schema_version') IS NOT NULL", logger: logger
            ).collect().first?.decode(Bool.self) ?? false
        guard numbered else { return }
        let version =
            try await connection.query("SELECT version FROM schema_version", logger: logger)
            .collect().first?.decode(Int.self) ?? 0
        for index in 0..<version {
            let name = index < migrations.count ? migrations[index].name : "v\(index + 1): from a newer Baton"
            try await connection.query(
                "INSERT INTO schema_migrations (identifier) VALUES (\(name)) ON CONFLICT DO NOTHING", logger: logger)
        }
        try await connection.query("DROP TABLE schema_version", logger: logger)
    }
}

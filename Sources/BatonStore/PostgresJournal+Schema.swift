import BatonEngine
import BatonModel
import BatonPlan
import Foundation
import Logging
import PostgresNIO

/// Baton's tables in PostgreSQL: made on first use, migrated in place, a newer one refused.
extension PostgresJournal {
    // MARK: Schema

    static let tables: [String] = [
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

    /// Migrations after the first schema, each from version N to N + 1.
    static let migrations: [[String]] = [
        // 2: named twins, each a snapshot and the actions performed since; the twin a run acts on.
        [
            "CREATE TABLE twin (name TEXT PRIMARY KEY, snapshot TEXT NOT NULL, saved DOUBLE PRECISION NOT NULL)",
            "INSERT INTO twin (name, snapshot, saved) SELECT 'default', twin, saved FROM lab_twin",
            "DROP TABLE lab_twin",
            """
            CREATE TABLE twin_action (twin TEXT NOT NULL, sequence INTEGER NOT NULL, step TEXT NOT NULL,
                PRIMARY KEY (twin, sequence))
            """,
            "ALTER TABLE run ADD COLUMN twin TEXT",
        ],
        // 3: each step's JSON beside its state, the run's plan without its steps (a resume reads
        // only the steps left to do); runs kept before keep their whole plan.
        ["ALTER TABLE step ADD COLUMN detail TEXT"],
    ]

    static func prepareSchema(_ client: PostgresClient, location: String) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(LockKey.schema.rawValue))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS baton", logger: logger)
            let exists =
                try await connection.query(
                    "SELECT to_regclass('baton.schema_version') IS NOT NULL", logger: logger
                ).collect().first?.decode(Bool.self) ?? false
            var version = 0
            if exists {
                version =
                    try await connection.query("SELECT version FROM baton.schema_version", logger: logger)
                    .collect().first?.decode(Int.self) ?? 0
            }
            if version > schemaVersion {
                throw JournalError.newer(
                    location: location, detail: "schema \(version); this one knows up to \(schemaVersion)")
            }
            if version == 0 {
                for statement in tables {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("CREATE TABLE schema_version (version INTEGER NOT NULL)", logger: logger)
                try await connection.query("INSERT INTO schema_version VALUES (1)", logger: logger)
                version = 1
            }
            while version < schemaVersion {
                for statement in migrations[version - 1] {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                version += 1
                try await connection.query("UPDATE schema_version SET version = \(version)", logger: logger)
            }
        }
    }
}

import BatonEngine
import BatonPlanner
import Foundation
import GRDB

/// The journal in SQLite (GRDB), in the state directory: runs, their plans, every step's
/// state and every transition with its time. Each write is a transaction SQLite makes
/// durable before it returns, so intent and results survive a `kill -9` or a power loss.
public final class SQLiteJournal: Journal {
    let database: DatabaseQueue

    public init(path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        // Write-ahead logging with a full sync on every commit: a committed transition
        // survives a power loss, at one fsync per commit.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        database = try DatabaseQueue(path: path, configuration: configuration)
        try database.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE run (
                        id TEXT PRIMARY KEY, organization TEXT NOT NULL, package TEXT NOT NULL, inventory TEXT NOT NULL,
                        state TEXT NOT NULL, created REAL NOT NULL, plan TEXT NOT NULL);
                    CREATE TABLE step (
                        run TEXT NOT NULL REFERENCES run(id), id TEXT NOT NULL, action TEXT NOT NULL, position INTEGER NOT NULL,
                        state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
                        PRIMARY KEY (run, id));
                    CREATE TABLE transition (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL, step TEXT, state TEXT NOT NULL,
                        at REAL NOT NULL, message TEXT NOT NULL DEFAULT '');
                    CREATE TABLE approval (run TEXT NOT NULL, gate TEXT NOT NULL, by TEXT NOT NULL, at REAL NOT NULL,
                        PRIMARY KEY (run, gate));
                    """)
        }
        migrator.registerMigration("v2: builds before a run") { db in
            try db.execute(sql: "ALTER TABLE run ADD COLUMN before TEXT NOT NULL DEFAULT '{}'")
        }
        return migrator
    }

    var now: Double { Date().timeIntervalSince1970 }

    public func createRun(_ run: RunRecord, plan: Plan) throws {
        let json = PlanFormat.json.render(plan)
        try database.write { db in
            try db.execute(
                sql:
                    "INSERT INTO run (id, organization, package, inventory, state, created, plan, before) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    run.id, run.organization, run.package, run.inventory, run.state.rawValue, run.created, json,
                    String(decoding: try JSONEncoder().encode(run.before), as: UTF8.self),
                ])
            for (position, step) in plan.steps.enumerated() {
                try db.execute(
                    sql: "INSERT INTO step (run, id, action, position, state) VALUES (?, ?, ?, ?, 'pending')",
                    arguments: [run.id, step.id, step.action.rawValue, position])
            }
            try db.execute(
                sql: "INSERT INTO transition (run, state, at) VALUES (?, 'created', ?)", arguments: [run.id, now])
        }
    }

    public func run(_ id: String) throws -> RunRecord? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = ?", arguments: [id]).map(Self.record)
        }
    }

    public func runs() throws -> [RunRecord] {
        try database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY created").map(Self.record) }
    }

    static func record(_ row: Row) -> RunRecord {
        RunRecord(
            id: row["id"], organization: row["organization"], package: row["package"], inventory: row["inventory"],
            state: RunState(rawValue: row["state"]) ?? .halted, created: row["created"],
            before: (try? JSONDecoder().decode(
                [String: String].self, from: Data((row["before"] as String? ?? "{}").utf8))) ?? [:])
    }

    public func plan(of run: String) throws -> Plan? {
        let json = try database.read { db in
            try String.fetchOne(db, sql: "SELECT plan FROM run WHERE id = ?", arguments: [run])
        }
        return try json.map { try JSONRenderer.decode($0) }
    }

    public func steps(of run: String) throws -> [StepRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM step WHERE run = ? ORDER BY position", arguments: [run]).map {
                row in
                StepRecord(
                    id: row["id"], action: row["action"], state: StepState(rawValue: row["state"]) ?? .pending,
                    attempts: row["attempts"], message: row["message"])
            }
        }
    }

    public func begin(run: String, step: String) throws {
        try database.write { db in
            try db.execute(
                sql: "UPDATE step SET state = 'running', attempts = attempts + 1 WHERE run = ? AND id = ?",
                arguments: [run, step])
            try db.execute(
                sql: "INSERT INTO transition (run, step, state, at) VALUES (?, ?, 'running', ?)",
                arguments: [run, step, now])
        }
    }

    public func finish(run: String, step: String, state: StepState, message: String) throws {
        try database.write { db in
            try db.execute(
                sql: "UPDATE step SET state = ?, message = ? WHERE run = ? AND id = ?",
                arguments: [state.rawValue, message, run, step])
            try db.execute(
                sql: "INSERT INTO transition (run, step, state, at, message) VALUES (?, ?, ?, ?, ?)",
                arguments: [run, step, state.rawValue, now, message])
        }
    }

    public func setState(run: String, _ state: RunState) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE run SET state = ? WHERE id = ?", arguments: [state.rawValue, run])
            try db.execute(
                sql: "INSERT INTO transition (run, state, at) VALUES (?, ?, ?)", arguments: [run, state.rawValue, now])
        }
    }

    public func approve(run: String, gate: String, by: String) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO approval (run, gate, by, at) VALUES (?, ?, ?, ?)",
                arguments: [run, gate, by, now])
        }
    }

    public func approvalRecords(of run: String) throws -> [(gate: String, by: String, at: Double)] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT gate, by, at FROM approval WHERE run = ? ORDER BY at", arguments: [run])
                .map {
                    (gate: $0["gate"], by: $0["by"], at: $0["at"])
                }
        }
    }

    public func approvals(of run: String) throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT gate FROM approval WHERE run = ?", arguments: [run])
        }
    }

    /// Sets every step of a run to `state` in one transaction (benchmarks and tests build
    /// finished runs with it).
    public func markAll(run: String, _ state: StepState) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE step SET state = ? WHERE run = ?", arguments: [state.rawValue, run])
        }
    }
}

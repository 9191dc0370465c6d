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
        migrator.registerMigration("v3: access tokens and the audit trail") { db in
            try db.execute(
                sql: """
                    CREATE TABLE token (hash TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
                        created REAL NOT NULL);
                    CREATE TABLE audit (sequence INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL,
                        action TEXT NOT NULL, by TEXT NOT NULL, at REAL NOT NULL);
                    CREATE INDEX transition_by_run_step ON transition (run, step, sequence);
                    ALTER TABLE run ADD COLUMN release_notes TEXT;
                    """)
        }
        migrator.registerMigration("v4: where a run acts") { db in
            try db.execute(sql: "ALTER TABLE run ADD COLUMN target TEXT NOT NULL DEFAULT 'lab'")
            try db.execute(sql: "ALTER TABLE step ADD COLUMN output TEXT")
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

    /// Every run's transitions, oldest first (`after` skips those already seen): what the
    /// server streams as events and turns into metrics.
    public func transitions(after sequence: Int64 = 0, run: String? = nil) throws -> [Transition] {
        try database.read { db in
            let rows =
                if let run {
                    try Row.fetchAll(
                        db, sql: "SELECT * FROM transition WHERE sequence > ? AND run = ? ORDER BY sequence",
                        arguments: [sequence, run])
                } else {
                    try Row.fetchAll(
                        db, sql: "SELECT * FROM transition WHERE sequence > ? ORDER BY sequence", arguments: [sequence])
                }
            return rows.map {
                Transition(
                    sequence: $0["sequence"], run: $0["run"], step: $0["step"], state: $0["state"], at: $0["at"],
                    message: $0["message"])
            }
        }
    }
}

/// One change of a run or a step, as the journal recorded it.
public struct Transition: Sendable, Hashable, Codable {
    public var sequence: Int64
    public var run: String
    /// Nil for a change of the run itself.
    public var step: String?
    /// A `StepState` for a step; `created` or a `RunState` for the run.
    public var state: String
    public var at: Double
    public var message: String
}

/// Who may do what through `baton serve`.
public enum AccessRole: String, Sendable, Codable, CaseIterable {
    /// Reads and plans.
    case viewer
    /// Starts, resumes and aborts runs.
    case `operator`
    /// Approves gates.
    case approver
}

/// An access token as the state store keeps it: never the token itself, only its SHA-256.
public struct AccessTokenRecord: Sendable, Hashable, Codable {
    public var hash: String
    public var name: String
    public var role: AccessRole
    public var created: Double

    public init(hash: String, name: String, role: AccessRole, created: Double) {
        self.hash = hash
        self.name = name
        self.role = role
        self.created = created
    }
}

/// One thing a person did to a run (started, resumed, aborted), for the report's audit trail.
public struct AuditRecord: Sendable, Hashable, Codable {
    public var run: String
    public var action: String
    public var by: String
    public var at: Double
}

extension SQLiteJournal {
    /// Fails when the name is taken: a token's name is who the audit trail says acted.
    public func addToken(_ token: AccessTokenRecord) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT INTO token (hash, name, role, created) VALUES (?, ?, ?, ?)",
                arguments: [token.hash, token.name, token.role.rawValue, token.created])
        }
    }

    public func token(hash: String) throws -> AccessTokenRecord? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM token WHERE hash = ?", arguments: [hash]).map(Self.token)
        }
    }

    public func tokens() throws -> [AccessTokenRecord] {
        try database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM token ORDER BY created").map(Self.token) }
    }

    /// Returns whether a token of that name existed.
    public func revokeToken(name: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM token WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    static func token(_ row: Row) -> AccessTokenRecord {
        AccessTokenRecord(
            hash: row["hash"], name: row["name"], role: AccessRole(rawValue: row["role"]) ?? .viewer,
            created: row["created"])
    }

    public func audit(run: String, action: String, by: String) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT INTO audit (run, action, by, at) VALUES (?, ?, ?, ?)", arguments: [run, action, by, now])
        }
    }

    public func recordOutput(run: String, step: String, output: String) throws {
        try database.write { db in
            try db.execute(
                sql: "UPDATE step SET output = ? WHERE run = ? AND id = ?", arguments: [output, run, step])
        }
    }

    /// What each step's action printed last (its end), by step id.
    public func outputs(of run: String) throws -> [String: String] {
        try database.read { db in
            var outputs: [String: String] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT id, output FROM step WHERE run = ? AND output IS NOT NULL", arguments: [run])
            {
                outputs[row["id"]] = row["output"]
            }
            return outputs
        }
    }

    /// Where a run acts: `lab` (the twin) or `hosts` (the inventory's real hosts). Kept so that
    /// a resume goes where the run began.
    public func setTarget(run: String, _ target: String) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE run SET target = ? WHERE id = ?", arguments: [target, run])
        }
    }

    public func target(of run: String) throws -> String {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT target FROM run WHERE id = ?", arguments: [run]) ?? "lab"
        }
    }

    /// Where the approvers of a run read the package's release notes (rule `release-notes`).
    public func setReleaseNotes(run: String, link: String) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE run SET release_notes = ? WHERE id = ?", arguments: [link, run])
        }
    }

    public func releaseNotes(of run: String) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT release_notes FROM run WHERE id = ?", arguments: [run])
        }
    }

    public func auditRecords(of run: String) throws -> [AuditRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE run = ? ORDER BY sequence", arguments: [run]).map {
                AuditRecord(run: $0["run"], action: $0["action"], by: $0["by"], at: $0["at"])
            }
        }
    }
}

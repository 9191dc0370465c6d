import BatonEngine
import BatonModel
import Foundation
import GRDB

extension SQLiteJournal {
    /// Fails when the name is taken: a token's name is who the audit trail says acted.
    public func addToken(_ token: AccessTokenRecord) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT INTO token (hash, name, role, created, expires) VALUES (?, ?, ?, ?, ?)",
                arguments: [token.hash, token.name, token.role.rawValue, token.created, token.expires])
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

    /// Records that a token was accepted now, at most once a minute (a read does not cost a
    /// durable write each time).
    public func touchToken(hash: String) throws {
        let now = self.now
        try database.write { db in
            try db.execute(
                sql: "UPDATE token SET last_used = ? WHERE hash = ? AND (last_used IS NULL OR last_used < ?)",
                arguments: [now, hash, now - 60])
        }
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
            created: row["created"], expires: row["expires"], lastUsed: row["last_used"])
    }

    public func audit(run: RunID, action: String, by: String) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT INTO audit (run, action, by, at) VALUES (?, ?, ?, ?)", arguments: [run, action, by, now])
        }
    }

    public func recordOutput(run: RunID, step: StepID, output: String) throws {
        try write(run: run) { db in
            try db.execute(
                sql: "UPDATE step SET output = ? WHERE run = ? AND id = ?", arguments: [output, run, step])
        }
    }

    /// What each step's action printed last (its end), by step id.
    public func outputs(of run: RunID) throws -> [StepID: String] {
        try database.read { db in
            var outputs: [StepID: String] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT id, output FROM step WHERE run = ? AND output IS NOT NULL", arguments: [run])
            {
                outputs[row["id"]] = row["output"]
            }
            return outputs
        }
    }

    public func target(of run: RunID) throws -> RunTarget {
        let stored = try database.read { db in
            try String.fetchOne(db, sql: "SELECT target FROM run WHERE id = ?", arguments: [run])
        }
        return try RunTarget.stored(stored, run: run, location: location)
    }

    public func inventoryText(of run: RunID) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT inventory_text FROM run WHERE id = ?", arguments: [run])
        }
    }

    /// Where the approvers of a run read the package's release notes (rule `release-notes`).
    public func setReleaseNotes(run: RunID, link: String) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE run SET release_notes = ? WHERE id = ?", arguments: [link, run])
        }
    }

    public func releaseNotes(of run: RunID) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT release_notes FROM run WHERE id = ?", arguments: [run])
        }
    }

    public func keepReport(run: RunID, _ json: String) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE run SET report = ? WHERE id = ?", arguments: [json, run])
        }
    }

    public func keptReport(of run: RunID) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT report FROM run WHERE id = ?", arguments: [run])
        }
    }

    public func auditRecords(of run: RunID) throws -> [AuditRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE run = ? ORDER BY sequence", arguments: [run]).map {
                AuditRecord(run: $0["run"], action: $0["action"], by: $0["by"], at: $0["at"])
            }
        }
    }
}

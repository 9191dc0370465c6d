import BatonEngine
import BatonModel
import BatonPlan
import Foundation
import Logging
import PostgresNIO

/// Approvals, the audit trail and access tokens.
extension PostgresJournal {
    // MARK: Approvals and the audit trail

    public func approve(run: RunID, _ approval: ApprovalRecord) async throws {
        try await write(run: run) { connection in
            let inserted = try await Self.rows(
                """
                INSERT INTO approval (run, gate, approver, at, how, os_user)
                VALUES (\(run.rawValue), \(approval.gate), \(approval.by), \(approval.at), \(approval.how.rawValue),
                    \(approval.user))
                ON CONFLICT (run, gate) DO NOTHING RETURNING gate
                """, on: connection)
            if inserted.isEmpty {
                let first = try await Self.rows(
                    "SELECT * FROM approval WHERE run = \(run.rawValue) AND gate = \(approval.gate)", on: connection)
                if let first = first.first {
                    throw JournalError.alreadyApproved(run: run, try Self.approval(first))
                }
            }
        }
    }

    static func approval(_ row: PostgresRandomAccessRow) throws -> ApprovalRecord {
        ApprovalRecord(
            gate: try row["gate"].decode(String.self), by: try row["approver"].decode(String.self),
            how: ApprovalMethod(rawValue: try row["how"].decode(String.self)) ?? .command,
            user: try row["os_user"].decode(String.self), at: try row["at"].decode(Double.self))
    }

    public func approvals(of run: RunID) async throws -> [String] {
        try await query("SELECT gate FROM approval WHERE run = \(run.rawValue)").map {
            try $0["gate"].decode(String.self)
        }
    }

    public func approvalRecords(of run: RunID) async throws -> [ApprovalRecord] {
        try await query("SELECT * FROM approval WHERE run = \(run.rawValue) ORDER BY at").map(Self.approval)
    }

    public func audit(run: RunID, action: String, by: String) async throws {
        _ = try await query(
            """
            INSERT INTO audit (run, action, actor, at)
            VALUES (\(run.rawValue), \(action), \(by), \(Date().timeIntervalSince1970))
            """)
    }

    public func auditRecords(of run: RunID) async throws -> [AuditRecord] {
        try await query("SELECT * FROM audit WHERE run = \(run.rawValue) ORDER BY sequence").map { row in
            AuditRecord(
                run: run, action: try row["action"].decode(String.self), by: try row["actor"].decode(String.self),
                at: try row["at"].decode(Double.self))
        }
    }

    // MARK: Access tokens

    public func addToken(_ token: AccessTokenRecord) async throws {
        _ = try await query(
            """
            INSERT INTO token (hash, name, role, created, expires, last_used)
            VALUES (\(token.hash), \(token.name), \(token.role.rawValue), \(token.created), \(token.expires),
                \(token.lastUsed))
            """)
    }

    public func token(hash: String) async throws -> AccessTokenRecord? {
        try await query("SELECT * FROM token WHERE hash = \(hash)").first.map(Self.token)
    }

    public func tokens() async throws -> [AccessTokenRecord] {
        try await query("SELECT * FROM token ORDER BY created, name").map(Self.token)
    }

    static func token(_ row: PostgresRandomAccessRow) throws -> AccessTokenRecord {
        AccessTokenRecord(
            hash: try row["hash"].decode(String.self), name: try row["name"].decode(String.self),
            role: AccessRole(rawValue: try row["role"].decode(String.self)) ?? .viewer,
            created: try row["created"].decode(Double.self), expires: try row["expires"].decode(Double?.self),
            lastUsed: try row["last_used"].decode(Double?.self))
    }

    public func touchToken(hash: String) async throws {
        let now = Date().timeIntervalSince1970
        _ = try await query(
            """
            UPDATE token SET last_used = \(now) WHERE hash = \(hash) AND (last_used IS NULL OR last_used < \(now - 60))
            """)
    }

    public func revokeToken(name: String) async throws -> Bool {
        try await !query("DELETE FROM token WHERE name = \(name) RETURNING name").isEmpty
    }
}

import BatonEngine
import BatonModel
import BatonPlan
import Foundation
import GRDB

extension SQLiteJournal {
    static func lease(_ run: RunID, _ db: Database) throws -> Lease? {
        try Row.fetchOne(db, sql: "SELECT * FROM lease WHERE run = ?", arguments: [run]).map { row in
            Lease(
                run: row["run"],
                owner: LeaseOwner(
                    host: row["host"], pid: row["pid"],
                    processStart: OwnershipDecision.processStart(stored: row["process_start"] as Int64),
                    instance: row["instance"]),
                epoch: row["epoch"], heartbeat: row["heartbeat"], acquired: row["acquired"], expiry: row["expiry"])
        }
    }

    /// The run's lease as last written, live or not; nil for a run never driven under one.
    public func lease(of run: RunID) throws -> Lease? {
        try database.read { db in try Self.lease(run, db) }
    }

    /// Takes the lease of `run` for `owner` (epoch one more than before) and claims `claims`,
    /// in one transaction. Throws `OwnershipError` when another live owner holds the run or
    /// another live run holds a claim; nothing changes then.
    public func acquire(run: RunID, owner: LeaseOwner, expiry: Double, claims: [Claim]) throws -> Lease {
        try immediate { db in try Self.acquire(run: run, owner: owner, expiry: expiry, claims: claims, db) }
    }

    /// Records a new run, its lease and its claims in one transaction: two processes starting
    /// runs together never both act. `id` nil takes the next free name (run-1, run-2, …).
    public func createOwnedRun(
        _ record: RunRecord, id: RunID?, plan: Plan, owner: LeaseOwner, expiry: Double, claims: [Claim],
        target: RunTarget, inventoryText: String?
    ) throws -> Lease {
        let stored = StoredPlan(plan)
        return try immediate { db in
            var record = record
            record.id = try id ?? Self.nextRunName(db)
            try Self.insert(record, plan: plan, stored: stored, db)
            // Where it acts and its inline inventory, in the same transaction: a controller
            // killed right after never leaves a run that would resume elsewhere.
            try db.execute(
                sql: "UPDATE run SET target = ?, inventory_text = ? WHERE id = ?",
                arguments: [target.rawValue, inventoryText, record.id])
            return try Self.acquire(run: record.id, owner: owner, expiry: expiry, claims: claims, db)
        }
    }

    static func nextRunName(_ db: Database) throws -> RunID {
        OwnershipDecision.nextRunName(existing: Set(try String.fetchAll(db, sql: "SELECT id FROM run")))
    }

    static func acquire(run: RunID, owner: LeaseOwner, expiry: Double, claims: [Claim], _ db: Database) throws
        -> Lease
    {
        let now = Date().timeIntervalSince1970
        let lease = try OwnershipDecision.grant(
            run: run, to: owner, expiry: expiry, previous: try Self.lease(run, db),
            claims: try claims.map { ($0, try Self.liveClaim($0.resource, db)) }, now: now)
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO lease (run, host, pid, process_start, instance, epoch, heartbeat, acquired, expiry)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                run, owner.host, owner.pid, OwnershipDecision.stored(processStart: owner.processStart), owner.instance,
                lease.epoch, now, now, expiry,
            ])
        for claim in claims {
            try db.execute(
                sql: "INSERT OR REPLACE INTO claim (resource, run, label) VALUES (?, ?, ?)",
                arguments: [claim.resource, run, claim.label])
        }
        return lease
    }

    /// The lease of the live run holding `resource`, if one does.
    public func liveClaim(_ resource: String) throws -> Lease? {
        try database.read { db in try Self.liveClaim(resource, db) }
    }

    static func liveClaim(_ resource: String, _ db: Database) throws -> Lease? {
        guard
            let holder = try RunID.fetchOne(
                db, sql: "SELECT run FROM claim WHERE resource = ?", arguments: [resource]),
            let lease = try lease(holder, db), lease.isLive(at: Date().timeIntervalSince1970)
        else { return nil }
        return lease
    }

    /// Renews the heartbeat; throws `OwnershipError.leaseLost` when the lease was taken over.
    public func renew(_ lease: Lease) throws -> Lease {
        try database.write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(
                sql: "UPDATE lease SET heartbeat = ? WHERE run = ? AND epoch = ? AND instance = ?",
                arguments: [now, lease.run, lease.epoch, lease.owner.instance])
            guard db.changesCount > 0 else {
                throw OwnershipError.leaseLost(run: lease.run, by: try Self.lease(lease.run, db))
            }
            var renewed = lease
            renewed.heartbeat = now
            return renewed
        }
    }

    /// Gives the run up: its lease and claims are free at once for whoever comes next.
    public func release(_ lease: Lease) throws {
        try database.write { db in
            try db.execute(
                sql: "UPDATE lease SET expiry = 0 WHERE run = ? AND epoch = ? AND instance = ?",
                arguments: [lease.run, lease.epoch, lease.owner.instance])
        }
    }
}

extension SQLiteJournal {
    /// Throws `OwnershipError.leaseLost` unless this journal's lease is still the run's: what
    /// an owner asks right before it acts.
    public func confirmLease() throws {
        guard let fence else { return }
        try database.read { db in try Self.check(fence, db) }
    }
}

import BatonEngine
import BatonModel
import BatonPlan
import Foundation
import Logging
import PostgresNIO

/// Leases, fencing and claims, decided by `OwnershipDecision` under the ownership lock.
extension PostgresJournal {
    // MARK: Leases, fencing and claims

    /// The lease as stored, its times moved to this machine's clock: the server's clock writes
    /// them, and `Lease.isLive(at:)` is asked with this machine's time.
    static func lease(_ run: RunID, _ connection: PostgresConnection, lock: String = "") async throws -> Lease? {
        guard
            let row = try await rows(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT *, extract(epoch from clock_timestamp())::float8 AS server_now FROM lease WHERE run = $1 \(lock)",
                    binds: {
                        var binds = PostgresBindings(); binds.append(run.rawValue); return binds
                    }()),
                on: connection
            ).first
        else { return nil }
        return try lease(row)
    }

    static func lease(_ row: PostgresRandomAccessRow) throws -> Lease {
        let skew = Date().timeIntervalSince1970 - (try row["server_now"].decode(Double.self))
        return Lease(
            run: RunID(try row["run"].decode(String.self)),
            owner: LeaseOwner(
                host: try row["host"].decode(String.self), pid: try row["pid"].decode(Int32.self),
                processStart: OwnershipDecision.processStart(stored: try row["process_start"].decode(Int64.self)),
                instance: try row["instance"].decode(String.self)),
            epoch: try row["epoch"].decode(Int64.self), heartbeat: try row["heartbeat"].decode(Double.self) + skew,
            acquired: try row["acquired"].decode(Double.self) + skew, expiry: try row["expiry"].decode(Double.self))
    }

    public func lease(of run: RunID) async throws -> Lease? {
        try await transaction { connection in try await Self.lease(run, connection) }
    }

    public func acquire(run: RunID, owner: LeaseOwner, expiry: Double, claims: [Claim]) async throws -> Lease {
        try await transaction { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(LockKey.ownership.rawValue))", logger: logger)
            return try await Self.acquire(run: run, owner: owner, expiry: expiry, claims: claims, connection)
        }
    }

    /// Under the ownership lock: refused while another live owner holds the run or another live
    /// run holds a claim; otherwise the epoch grows by one and the claims are this run's.
    static func acquire(
        run: RunID, owner: LeaseOwner, expiry: Double, claims: [Claim], _ connection: PostgresConnection
    ) async throws -> Lease {
        let previous = try await lease(run, connection, lock: "FOR UPDATE")
        var holders: [(claim: Claim, holder: Lease?)] = []
        for claim in claims { holders.append((claim, try await liveClaim(claim.resource, connection))) }
        let epoch = try OwnershipDecision.grant(
            run: run, to: owner, expiry: expiry, previous: previous, claims: holders, now: Date().timeIntervalSince1970
        ).epoch
        let row = try await rows(
            """
            INSERT INTO lease (run, host, pid, process_start, instance, epoch, heartbeat, acquired, expiry)
            VALUES (\(run.rawValue), \(owner.host), \(owner.pid), \(OwnershipDecision.stored(processStart: owner.processStart)),
                \(owner.instance), \(epoch), extract(epoch from clock_timestamp()),
                extract(epoch from clock_timestamp()), \(expiry))
            ON CONFLICT (run) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                process_start = excluded.process_start, instance = excluded.instance, epoch = excluded.epoch,
                heartbeat = excluded.heartbeat, acquired = excluded.acquired, expiry = excluded.expiry
            RETURNING *, extract(epoch from clock_timestamp())::float8 AS server_now
            """, on: connection)
        for claim in claims {
            try await connection.query(
                """
                INSERT INTO claim (resource, run, label) VALUES (\(claim.resource), \(run.rawValue), \(claim.label))
                ON CONFLICT (resource) DO UPDATE SET run = excluded.run, label = excluded.label
                """, logger: logger)
        }
        guard let stored = row.first else { throw OwnershipError.leaseLost(run: run, by: nil) }
        return try lease(stored)
    }

    public func liveClaim(_ resource: String) async throws -> Lease? {
        try await transaction { connection in try await Self.liveClaim(resource, connection) }
    }

    static func liveClaim(_ resource: String, _ connection: PostgresConnection) async throws -> Lease? {
        guard let row = try await rows("SELECT run FROM claim WHERE resource = \(resource)", on: connection).first,
            let lease = try await lease(RunID(try row["run"].decode(String.self)), connection),
            lease.isLive(at: Date().timeIntervalSince1970)
        else { return nil }
        return lease
    }

    public func renew(_ lease: Lease) async throws -> Lease {
        try await transaction { connection in
            let updated = try await Self.rows(
                """
                UPDATE lease SET heartbeat = extract(epoch from clock_timestamp())
                WHERE run = \(lease.run.rawValue) AND epoch = \(lease.epoch) AND instance = \(lease.owner.instance)
                RETURNING *, extract(epoch from clock_timestamp())::float8 AS server_now
                """, on: connection)
            guard let row = updated.first else {
                throw OwnershipError.leaseLost(run: lease.run, by: try await Self.lease(lease.run, connection))
            }
            return try Self.lease(row)
        }
    }

    public func release(_ lease: Lease) async throws {
        _ = try await query(
            """
            UPDATE lease SET expiry = 0
            WHERE run = \(lease.run.rawValue) AND epoch = \(lease.epoch) AND instance = \(lease.owner.instance)
            """)
    }

    public func fenced(by lease: Lease) -> any Journal { PostgresJournal(sharing: self, fence: lease) }

    static func check(_ fence: Lease, _ connection: PostgresConnection) async throws {
        let current = try await lease(fence.run, connection, lock: "FOR SHARE")
        guard let current, current.epoch == fence.epoch, current.owner.instance == fence.owner.instance else {
            throw OwnershipError.leaseLost(run: fence.run, by: current)
        }
    }

    public func confirmLease() async throws {
        guard let fence else { return }
        try await transaction { connection in try await Self.check(fence, connection) }
    }
}

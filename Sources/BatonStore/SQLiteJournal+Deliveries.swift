import BatonEngine
import BatonModel
import Foundation
import GRDB

/// The notifications owed (`DeliveryLedger`): one row per run and receiver.
extension SQLiteJournal {
    public func note(run: RunID, _ message: String) throws {
        try write(run: run) { db in
            try db.execute(
                sql: "INSERT INTO transition (run, state, at, message) VALUES (?, 'running', ?, ?)",
                arguments: [run, now, message])
        }
    }

    public func addReceivers(run: RunID, _ receivers: [(name: String, settings: String)]) throws {
        guard !receivers.isEmpty else { return }
        try immediate { db in
            let last =
                try Int64.fetchOne(
                    db, sql: "SELECT COALESCE(MAX(sequence), 0) FROM transition WHERE run = ?", arguments: [run]) ?? 0
            for receiver in receivers {
                try db.execute(
                    sql: """
                        INSERT INTO delivery (run, receiver, settings, delivered) VALUES (?, ?, ?, ?)
                        ON CONFLICT (run, receiver) DO NOTHING
                        """,
                    arguments: [run, receiver.name, receiver.settings, last])
            }
        }
    }

    public func takeDeliveries(holder: LeaseOwner, until: Double, run: RunID?) throws -> [DeliveryRecord] {
        let at = now
        // Most of the time nothing is owed: found without taking the write lock.
        let owed = try database.read { db in
            try Row.fetchAll(db, sql: Self.owedQuery, arguments: [run, run]).contains { Self.delivery($0).pending }
        }
        guard owed else { return [] }
        return try immediate { db in
            let rows = try Row.fetchAll(db, sql: Self.owedQuery, arguments: [run, run])
            var taken: [DeliveryRecord] = []
            for row in rows {
                let record = Self.delivery(row)
                guard record.pending else { continue }
                let held = DeliveryHolder(row)
                guard held.isFree(for: holder, at: at) else { continue }
                try db.execute(
                    sql: """
                        UPDATE delivery SET holder_host = ?, holder_pid = ?, holder_start = ?, holder_instance = ?,
                            held_until = ? WHERE run = ? AND receiver = ?
                        """,
                    arguments: [
                        holder.host, holder.pid, Int64(bitPattern: holder.processStart), holder.instance, until,
                        record.run, record.receiver,
                    ])
                taken.append(record)
            }
            return taken
        }
    }

    public func delivered(run: RunID, receiver: String, through sequence: Int64) throws {
        try immediate { db in
            try db.execute(
                sql: """
                    UPDATE delivery SET delivered = MAX(delivered, ?), attempts = 0, next_try = 0, last_error = ''
                    WHERE run = ? AND receiver = ?
                    """,
                arguments: [sequence, run, receiver])
        }
    }

    public func deliveryFailed(run: RunID, receiver: String, attempts: Int, nextTry: Double, error: String) throws {
        try immediate { db in
            try db.execute(
                sql: "UPDATE delivery SET attempts = ?, next_try = ?, last_error = ? WHERE run = ? AND receiver = ?",
                arguments: [attempts, nextTry, String(error.prefix(1000)), run, receiver])
        }
    }

    public func deliveries(of run: RunID) throws -> [DeliveryRecord] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.*, (SELECT COALESCE(MAX(t.sequence), 0) FROM transition t WHERE t.run = d.run) AS last
                    FROM delivery d WHERE d.run = ? ORDER BY d.receiver
                    """,
                arguments: [run]
            ).map(Self.delivery)
        }
    }

    /// Every receiver (of one run, when the argument is given twice), with its run's last
    /// transition.
    static let owedQuery = """
        SELECT d.*, (SELECT COALESCE(MAX(t.sequence), 0) FROM transition t WHERE t.run = d.run) AS last
        FROM delivery d WHERE (? IS NULL OR d.run = ?) ORDER BY d.run, d.receiver
        """

    static func delivery(_ row: Row) -> DeliveryRecord {
        let delivered: Int64 = row["delivered"]
        let last: Int64 = row["last"]
        return DeliveryRecord(
            run: RunID(row["run"] as String), receiver: row["receiver"], settings: row["settings"],
            delivered: delivered, attempts: row["attempts"], nextTry: row["next_try"], lastError: row["last_error"],
            pending: last > delivered)
    }

    static func createDeliveries(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE delivery (run TEXT NOT NULL, receiver TEXT NOT NULL, settings TEXT NOT NULL,
                    delivered INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL DEFAULT 0,
                    last_error TEXT NOT NULL DEFAULT '', holder_host TEXT, holder_pid INTEGER, holder_start INTEGER,
                    holder_instance TEXT, held_until REAL NOT NULL DEFAULT 0, PRIMARY KEY (run, receiver))
                """)
    }
}

/// Who holds a receiver's deliveries, as a row says.
struct DeliveryHolder {
    var owner: LeaseOwner?
    var until: Double

    init(_ row: Row) {
        until = row["held_until"] ?? 0
        if let host: String = row["holder_host"], let instance: String = row["holder_instance"] {
            let start: Int64 = row["holder_start"] ?? 0
            owner = LeaseOwner(
                host: host, pid: row["holder_pid"] ?? 0, processStart: UInt64(bitPattern: start), instance: instance)
        }
    }

    init(owner: LeaseOwner?, until: Double) {
        self.owner = owner
        self.until = until
    }

    /// Whether `holder` may take it now: nobody holds it, or `holder` does, or the hold has
    /// run out, or its holder's process on this machine has ended.
    func isFree(for holder: LeaseOwner, at now: Double) -> Bool {
        guard let owner else { return true }
        return owner.instance == holder.instance || until < now || owner.isGoneFromThisMachine
    }
}

import BatonEngine
import BatonModel
import Foundation
import PostgresNIO

/// The notifications owed (`DeliveryLedger`): one row per run and receiver.
extension PostgresJournal {
    public func note(run: RunID, _ message: String) async throws {
        try await write(run: run) { connection in
            try await Self.addTransition(run: run, step: nil, state: "running", message: message, on: connection)
        }
    }

    public func addReceivers(run: RunID, _ receivers: [(name: String, settings: String)]) async throws {
        guard !receivers.isEmpty else { return }
        let receivers = receivers.map { ReceiverRow(name: $0.name, settings: $0.settings) }
        try await transaction { connection in
            for receiver in receivers {
                try await connection.query(
                    """
                    INSERT INTO delivery (run, receiver, settings, delivered)
                    SELECT \(run.rawValue), \(receiver.name), \(receiver.settings),
                        COALESCE((SELECT MAX(sequence) FROM transition WHERE run = \(run.rawValue)), 0)
                    ON CONFLICT (run, receiver) DO NOTHING
                    """, logger: logger)
            }
        }
    }

    public func takeDeliveries(holder: LeaseOwner, until: Double, run: RunID?) async throws -> [DeliveryRecord] {
        let at = Date().timeIntervalSince1970
        // Most of the time nothing is owed: found without locking a row.
        let owed = try await query(
            """
            SELECT d.delivered, COALESCE((SELECT MAX(t.sequence) FROM transition t WHERE t.run = d.run), 0) AS last
            FROM delivery d WHERE (\(run?.rawValue)::text IS NULL OR d.run = \(run?.rawValue))
            """
        ).contains { row in
            ((try? row["last"].decode(Int64.self)) ?? 0) > ((try? row["delivered"].decode(Int64.self)) ?? 0)
        }
        guard owed else { return [] }
        return try await transaction { connection in
            let rows = try await Self.rows(
                """
                SELECT d.*, COALESCE((SELECT MAX(t.sequence) FROM transition t WHERE t.run = d.run), 0) AS last
                FROM delivery d WHERE (\(run?.rawValue)::text IS NULL OR d.run = \(run?.rawValue))
                ORDER BY d.run, d.receiver FOR UPDATE OF d
                """, on: connection)
            var taken: [DeliveryRecord] = []
            for row in rows {
                let record = try Self.delivery(row)
                guard record.pending else { continue }
                let held = DeliveryHolder(
                    owner: try row["holder_instance"].decode(String?.self).map { instance in
                        LeaseOwner(
                            host: try row["holder_host"].decode(String?.self) ?? "",
                            pid: try row["holder_pid"].decode(Int32?.self) ?? 0,
                            processStart: UInt64(bitPattern: try row["holder_start"].decode(Int64?.self) ?? 0),
                            instance: instance)
                    }, until: try row["held_until"].decode(Double.self))
                guard held.isFree(for: holder, at: at) else { continue }
                try await connection.query(
                    """
                    UPDATE delivery SET holder_host = \(holder.host), holder_pid = \(holder.pid),
                        holder_start = \(Int64(bitPattern: holder.processStart)), holder_instance = \(holder.instance),
                        held_until = \(until) WHERE run = \(record.run.rawValue) AND receiver = \(record.receiver)
                    """, logger: logger)
                taken.append(record)
            }
            return taken
        }
    }

    public func delivered(run: RunID, receiver: String, through sequence: Int64) async throws {
        _ = try await query(
            """
            UPDATE delivery SET delivered = GREATEST(delivered, \(sequence)), attempts = 0, next_try = 0,
                last_error = '' WHERE run = \(run.rawValue) AND receiver = \(receiver)
            """)
    }

    public func deliveryFailed(run: RunID, receiver: String, attempts: Int, nextTry: Double, error: String) async throws
    {
        let error = String(error.prefix(1000))
        _ = try await query(
            """
            UPDATE delivery SET attempts = \(attempts), next_try = \(nextTry), last_error = \(error)
            WHERE run = \(run.rawValue) AND receiver = \(receiver)
            """)
    }

    public func deliveries(of run: RunID) async throws -> [DeliveryRecord] {
        try await query(
            """
            SELECT d.*, COALESCE((SELECT MAX(t.sequence) FROM transition t WHERE t.run = d.run), 0) AS last
            FROM delivery d WHERE d.run = \(run.rawValue) ORDER BY d.receiver
            """
        ).map(Self.delivery)
    }

    static func delivery(_ row: PostgresRandomAccessRow) throws -> DeliveryRecord {
        let delivered = try row["delivered"].decode(Int64.self)
        return DeliveryRecord(
            run: RunID(try row["run"].decode(String.self)), receiver: try row["receiver"].decode(String.self),
            settings: try row["settings"].decode(String.self), delivered: delivered,
            attempts: try row["attempts"].decode(Int.self), nextTry: try row["next_try"].decode(Double.self),
            lastError: try row["last_error"].decode(String.self),
            pending: try row["last"].decode(Int64.self) > delivered)
    }
}

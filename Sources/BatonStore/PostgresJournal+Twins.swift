import BatonEngine
import BatonModel
import BatonPlan
import Foundation
import Logging
import PostgresNIO

/// Announcements (LISTEN/NOTIFY) and the lab twins kept in the journal.
extension PostgresJournal {
    // MARK: Announcements

    /// Transitions are announced on this channel (`NOTIFY` in the transaction that writes them,
    /// delivered when it commits).
    static let channel = "baton_transition"

    public func followChanges(_ changed: @escaping @Sendable () -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: Self.channel) { notifications in
                for try await _ in notifications { changed() }
            }
        }
    }

    // MARK: The lab twin

    /// The connection holding the twin's lock, for the reads and writes made under it.
    @TaskLocal static var labConnection: PostgresConnection?

    public func withLabLock<T: Sendable>(_ twin: TwinName, _ body: @Sendable () async throws -> T) async throws -> T {
        if Self.labConnection != nil { return try await body() }
        // The two-key form: one lock per twin (a hash shared by two names only makes them take turns).
        let key = String(LockKey.labTwin.rawValue)
        let lock: PostgresQuery = "SELECT pg_advisory_lock(\(unescaped: key), hashtext(\(twin.rawValue)))"
        let unlock: PostgresQuery = "SELECT pg_advisory_unlock(\(unescaped: key), hashtext(\(twin.rawValue)))"
        do {
            return try await client.withConnection { connection in
                try await connection.query(lock, logger: logger)
                do {
                    let result = try await Self.$labConnection.withValue(connection) { try await body() }
                    try await connection.query(unlock, logger: logger)
                    return result
                } catch {
                    _ = try? await connection.query(unlock, logger: logger)
                    throw error
                }
            }
        } catch let error as PSQLError {
            throw Self.journalError(error, location: location)
        }
    }

    func onLabConnection(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        guard let connection = Self.labConnection else { return try await self.query(query) }
        do {
            return try await Self.rows(query, on: connection)
        } catch {
            throw Self.journalError(error, location: location)
        }
    }

    public func labTwin(_ twin: TwinName) async throws -> StoredTwin? {
        guard
            let row = try await onLabConnection("SELECT snapshot FROM twin WHERE name = \(twin.rawValue)").first
        else { return nil }
        let actions = try await onLabConnection(
            "SELECT sequence, step FROM twin_action WHERE twin = \(twin.rawValue) ORDER BY sequence")
        return StoredTwin(
            snapshot: Data(try row["snapshot"].decode(String.self).utf8),
            actions: try actions.map {
                TwinAction(
                    sequence: try $0["sequence"].decode(Int.self), step: Data(try $0["step"].decode(String.self).utf8))
            })
    }

    public func saveLabTwin(_ twin: TwinName, snapshot: Data, covering: Int) async throws {
        let text = String(decoding: snapshot, as: UTF8.self)
        // One statement, so one transaction: the snapshot and the actions it replaces.
        _ = try await onLabConnection(
            """
            WITH forgotten AS (DELETE FROM twin_action WHERE twin = \(twin.rawValue))
            INSERT INTO twin (name, snapshot, saved) VALUES (\(twin.rawValue), \(text), extract(epoch from clock_timestamp()))
            ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot, saved = excluded.saved
            """)
    }

    public func appendLabActions(_ twin: TwinName, _ actions: [TwinAction]) async throws {
        guard !actions.isEmpty else { return }
        let sequences = actions.map(\.sequence)
        let steps = actions.map { String(decoding: $0.step, as: UTF8.self) }
        _ = try await onLabConnection(
            """
            INSERT INTO twin_action (twin, sequence, step)
            SELECT \(twin.rawValue), * FROM unnest(\(sequences)::integer[], \(steps)::text[])
            """)
    }

    public func labTwins() async throws -> [TwinName] {
        try await query("SELECT name FROM twin ORDER BY name").map { TwinName(try $0["name"].decode(String.self)) }
    }
}

import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// The journal in PostgreSQL (postgres-nio), for a team: several controllers on several
/// machines share runs, approvals, tokens and the lab twin. Baton's tables live in the schema
/// `baton` of the database named in the address; they are made on first use and migrated in
/// place (named migrations, recorded in `baton.schema_migrations`).
///
/// Ownership is kept as on SQLite (owner, epoch, heartbeat, claims) with PostgreSQL's locks:
/// every change of ownership (a new run, a takeover) holds one transaction-scoped advisory
/// lock, so two controllers never both take a run or a machine; every fenced write reads its
/// run's lease row `FOR SHARE` in its own transaction, so it either commits before a takeover
/// or sees the new epoch and changes nothing. Heartbeats and expiries are on the database
/// server's clock, so controllers whose clocks differ still agree on who is live.
public final class PostgresJournal: LabTwinKeeper, JournalNotifier {
    let connections: Connections
    var client: PostgresClient { connections.client }
    let address: PostgresAddress
    /// The lease every write for its run must still hold; nil for a journal that drives no run.
    public let fence: Lease?

    /// The connection pool, shared by the journal opened and every fenced copy. Its `run()`
    /// is a child task of the `BackgroundWork` the journal was opened with (postgres-nio asks
    /// for it in a long-running task of the application's own): it ends with that task.
    final class Connections: Sendable {
        let client: PostgresClient

        init(_ client: PostgresClient, background: BackgroundWork) {
            self.client = client
            background.add { await client.run() }
        }
    }

    public var location: String { address.description }

    static let logger = Logger(label: "baton.journal.postgres")

    /// Advisory lock keys: changes of ownership, the lab twin, the order of transitions.
    enum LockKey: Int64 {
        case ownership = 72_616_001
        case labTwin = 72_616_002
        case transitions = 72_616_003
        case schema = 72_616_004
    }

    /// Connects and makes or migrates Baton's tables. Throws `JournalError.unreachable` when the
    /// server refuses the connection or does not answer within `timeout`, `.newer` for a
    /// journal of a newer Baton.
    /// `background` runs the connection pool; it must be running (`BackgroundWork.run()`).
    public init(_ address: PostgresAddress, timeout: Duration = .seconds(10), background: BackgroundWork = .process)
        async throws
    {
        self.address = address
        self.fence = nil
        var configuration = PostgresClient.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password,
            database: address.database, tls: Self.tls(address))
        configuration.options.maximumConnections = 8
        configuration.options.connectTimeout = timeout
        configuration.options.additionalStartupParameters = [("search_path", "baton"), ("application_name", "baton")]
        guard background.isRunning else {
            throw JournalError.failed(
                location: address.description, reason: "nothing runs its connection pool (BackgroundWork.run())")
        }
        let connections = Connections(
            PostgresClient(configuration: configuration, backgroundLogger: Self.logger), background: background)
        self.connections = connections
        do {
            // The first connection within `timeout` (a server that does not answer); the
            // schema's work after it as long as it takes (a busy server is still a server).
            try await Self.within(timeout, location: address.description) { try await Self.probe(address) }
            try await Self.prepareSchema(connections.client, location: address.description)
        } catch {
            throw Self.journalError(error, location: address.description)
        }
    }

    init(sharing journal: PostgresJournal, fence: Lease) {
        self.connections = journal.connections
        self.address = journal.address
        self.fence = fence
    }

    /// One connection made and closed: a refused connection, an unknown user or a wrong password
    /// is reported at once with PostgreSQL's reason (the pool would keep trying them).
    static func probe(_ address: PostgresAddress) async throws {
        var tls = PostgresConnection.Configuration.TLS.disable
        if let configuration = tlsConfiguration(address) {
            let context = try NIOSSLContext(configuration: configuration)
            tls = address.tls == .prefer ? .prefer(context) : .require(context)
        }
        var configuration = PostgresConnection.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password,
            database: address.database, tls: tls)
        configuration.options.additionalStartupParameters = [("application_name", "baton")]
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        try await connection.close()
    }

    /// The TLS settings of `sslmode`: none for `disable`; the certificate checked only for
    /// `verify-full`.
    static func tlsConfiguration(_ address: PostgresAddress) -> TLSConfiguration? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch address.tls {
        case .disable: return nil
        case .prefer, .require: configuration.certificateVerification = .none
        case .verifyFull:
            configuration.certificateVerification = .fullVerification
            if let roots = address.rootCertificate { configuration.trustRoots = .file(roots) }
        }
        return configuration
    }

    static func tls(_ address: PostgresAddress) -> PostgresClient.Configuration.TLS {
        guard let configuration = tlsConfiguration(address) else { return .disable }
        return address.tls == .prefer ? .prefer(configuration) : .require(configuration)
    }

    /// `body`, or `.unreachable` when it has not finished within `limit` (the pool keeps
    /// retrying a server that does not answer; a command should not wait for ever).
    static func within<T: Sendable>(
        _ limit: Duration, location: String, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw JournalError.unreachable(location: location, reason: "no answer within \(limit)")
            }
            return value
        }
    }

    /// A PostgreSQL error as a journal error: a connection lost or refused, a login refused or
    /// a database missing as `.unreachable`; any other refusal of the server as `.failed`.
    /// Passwords never appear: postgres-nio's descriptions hold no credentials, and the address
    /// is shown without one.
    static func journalError(_ error: any Error, location: String) -> any Error {
        if let error = error as? PostgresTransactionError {
            let cause: (any Error)? = error.closureError ?? error.beginError ?? error.commitError
            return cause.map { journalError($0, location: location) } ?? error
        }
        guard let error = error as? PSQLError else { return error }
        guard let message = error.serverInfo?[.message] else {
            let cause = error.underlying.map { ": \($0)" } ?? ""
            return JournalError.unreachable(location: location, reason: "\(error.code)\(cause)")
        }
        let state = error.serverInfo?[.sqlState] ?? "?"
        let reason = "\(message) (SQLSTATE \(state))"
        // 28: the login refused; 3D000: no such database.
        if isConnectionLoss(error) || state.hasPrefix("28") || state == "3D000" {
            return JournalError.unreachable(location: location, reason: reason)
        }
        return JournalError.failed(location: location, reason: reason)
    }

    // MARK: Helpers

    var logger: Logger { Self.logger }

    func query(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        do {
            return try await retrying {
                try await client.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
            }
        } catch {
            throw Self.journalError(error, location: location)
        }
    }

    /// A transaction; the connection must not outlive `body`.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await retrying {
                try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            }
        } catch {
            throw Self.journalError(error, location: location)
        }
    }

    /// How long a lost connection is retried before the journal gives up (a server restarted,
    /// a network blip). Meanwhile the caller waits: the engine starts no step, and a step that
    /// ended keeps its outcome until it can be written.
    public static let retryWindow = Duration.seconds(30)

    /// `body`, again after a lost connection, backing off from 100 ms to 2 s, until it
    /// succeeds, fails otherwise, or `retryWindow` has passed. A transaction that fails is
    /// rolled back by the server, so trying it again applies it once; a lease lost meanwhile
    /// is found by the fenced write's own check.
    func retrying<T>(_ body: () async throws -> T) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + Self.retryWindow
        var delay = Duration.milliseconds(100)
        while true {
            do {
                return try await body()
            } catch  where Self.isConnectionLoss(error) && clock.now + delay < deadline && !Task.isCancelled {
                Self.logger.warning("the journal's server is unreachable; trying again in \(delay)")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// A lost or refused connection, or a server shutting down or starting: worth another try.
    static func isConnectionLoss(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            let cause: (any Error)? = error.beginError ?? error.closureError ?? error.commitError
            return cause.map(isConnectionLoss) ?? false
        }
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] {
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
        }
        return [.connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown].contains(
            error.code)
    }

    /// A transaction for `run`'s progress, refused when this journal is fenced by a lease that
    /// another owner has taken since.
    func write<T: Sendable>(run: RunID, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await transaction { connection in
            if let fence, fence.run == run { try await Self.check(fence, connection) }
            return try await body(connection)
        }
    }

    static func rows(_ query: PostgresQuery, on connection: PostgresConnection) async throws
        -> [PostgresRandomAccessRow]
    {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// Appends a transition. Transitions are numbered in the order they commit (an advisory
    /// lock held to the end of the transaction), so a reader following the sequence misses none.
    static func addTransition(
        run: RunID, step: StepID?, state: String, message: String, rule: Rule.ID? = nil,
        on connection: PostgresConnection
    ) async throws {
        try await connection.query(
            "SELECT pg_advisory_xact_lock(\(LockKey.transitions.rawValue))", logger: logger)
        try await connection.query(
            """
            INSERT INTO transition (run, step, state, at, message, rule)
            VALUES (\(run.rawValue), \(step?.rawValue), \(state), extract(epoch from clock_timestamp()), \(message),
                \(rule?.rawValue))
            """, logger: logger)
        try await connection.query("SELECT pg_notify(\(channel), '')", logger: logger)
    }
}

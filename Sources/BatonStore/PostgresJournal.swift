import BatonEngine
import BatonModel
import BatonPlanner
import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// The journal in PostgreSQL (postgres-nio), for a team: several controllers on several
/// machines share runs, approvals, tokens and the lab twin. Baton's tables live in the schema
/// `baton` of the database named in the address; they are made on first use and migrated in
/// place (`baton.schema_version`).
///
/// Ownership is kept as on SQLite (owner, epoch, heartbeat, claims) with PostgreSQL's locks:
/// every change of ownership (a new run, a takeover) holds one transaction-scoped advisory
/// lock, so two controllers never both take a run or a machine; every fenced write reads its
/// run's lease row `FOR SHARE` in its own transaction, so it either commits before a takeover
/// or sees the new epoch and changes nothing. Heartbeats and expiries are on the database
/// server's clock, so controllers whose clocks differ still agree on who is live.
public final class PostgresJournal: LabTwinKeeper, JournalNotifier, @unchecked Sendable {
    let connections: Connections
    var client: PostgresClient { connections.client }
    let address: PostgresAddress
    /// The lease every write for its run must still hold; nil for a journal that drives no run.
    public let fence: Lease?

    /// The connection pool and the task running it, stopped when the last journal using it
    /// (the one opened, and every fenced copy) is gone.
    final class Connections: Sendable {
        let client: PostgresClient
        let runner: Task<Void, Never>

        init(_ client: PostgresClient) {
            self.client = client
            self.runner = Task { await client.run() }
        }

        deinit { runner.cancel() }
    }

    /// The schema this Baton writes; a database at a higher one is refused.
    public static let schemaVersion = 3

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
    public init(_ address: PostgresAddress, timeout: Duration = .seconds(10)) async throws {
        self.address = address
        self.fence = nil
        var configuration = PostgresClient.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password,
            database: address.database, tls: Self.tls(address))
        configuration.options.maximumConnections = 8
        configuration.options.connectTimeout = timeout
        configuration.options.additionalStartupParameters = [("search_path", "baton"), ("application_name", "baton")]
        let connections = Connections(PostgresClient(configuration: configuration, backgroundLogger: Self.logger))
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

    // MARK: Schema

    static let tables: [String] = [
        """
        CREATE TABLE run (id TEXT PRIMARY KEY, organization TEXT NOT NULL, package TEXT NOT NULL,
            inventory TEXT NOT NULL, state TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, plan TEXT NOT NULL,
            before TEXT NOT NULL DEFAULT '{}', release_notes TEXT, target TEXT NOT NULL DEFAULT 'lab',
            inventory_text TEXT)
        """,
        """
        CREATE TABLE step (run TEXT NOT NULL REFERENCES run(id), id TEXT NOT NULL, action TEXT NOT NULL,
            position INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            message TEXT NOT NULL DEFAULT '', output TEXT, PRIMARY KEY (run, id))
        """,
        """
        CREATE TABLE transition (sequence BIGSERIAL PRIMARY KEY, run TEXT NOT NULL, step TEXT, state TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL, message TEXT NOT NULL DEFAULT '')
        """,
        "CREATE INDEX transition_by_run ON transition (run, sequence)",
        """
        CREATE TABLE approval (run TEXT NOT NULL, gate TEXT NOT NULL, approver TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL, how TEXT NOT NULL, os_user TEXT NOT NULL, PRIMARY KEY (run, gate))
        """,
        """
        CREATE TABLE token (hash TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION, last_used DOUBLE PRECISION)
        """,
        """
        CREATE TABLE audit (sequence BIGSERIAL PRIMARY KEY, run TEXT NOT NULL, action TEXT NOT NULL,
            actor TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)
        """,
        """
        CREATE TABLE lease (run TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
            process_start BIGINT NOT NULL, instance TEXT NOT NULL, epoch BIGINT NOT NULL,
            heartbeat DOUBLE PRECISION NOT NULL, acquired DOUBLE PRECISION NOT NULL, expiry DOUBLE PRECISION NOT NULL)
        """,
        "CREATE TABLE claim (resource TEXT PRIMARY KEY, run TEXT NOT NULL, label TEXT NOT NULL)",
        """
        CREATE TABLE lab_twin (id INTEGER PRIMARY KEY CHECK (id = 1), twin TEXT NOT NULL,
            saved DOUBLE PRECISION NOT NULL)
        """,
    ]

    /// Migrations after the first schema, each from version N to N + 1.
    static let migrations: [[String]] = [
        // 2: named twins, each a snapshot and the actions performed since; the twin a run acts on.
        [
            "CREATE TABLE twin (name TEXT PRIMARY KEY, snapshot TEXT NOT NULL, saved DOUBLE PRECISION NOT NULL)",
            "INSERT INTO twin (name, snapshot, saved) SELECT 'default', twin, saved FROM lab_twin",
            "DROP TABLE lab_twin",
            """
            CREATE TABLE twin_action (twin TEXT NOT NULL, sequence INTEGER NOT NULL, step TEXT NOT NULL,
                PRIMARY KEY (twin, sequence))
            """,
            "ALTER TABLE run ADD COLUMN twin TEXT",
        ],
        // 3: each step's JSON beside its state, the run's plan without its steps (a resume reads
        // only the steps left to do); runs kept before keep their whole plan.
        ["ALTER TABLE step ADD COLUMN detail TEXT"],
    ]

    static func prepareSchema(_ client: PostgresClient, location: String) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(LockKey.schema.rawValue))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS baton", logger: logger)
            let exists =
                try await connection.query(
                    "SELECT to_regclass('baton.schema_version') IS NOT NULL", logger: logger
                ).collect().first?.decode(Bool.self) ?? false
            var version = 0
            if exists {
                version =
                    try await connection.query("SELECT version FROM baton.schema_version", logger: logger)
                    .collect().first?.decode(Int.self) ?? 0
            }
            if version > schemaVersion {
                throw JournalError.newer(
                    location: location, detail: "schema \(version); this one knows up to \(schemaVersion)")
            }
            if version == 0 {
                for statement in tables {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("CREATE TABLE schema_version (version INTEGER NOT NULL)", logger: logger)
                try await connection.query("INSERT INTO schema_version VALUES (1)", logger: logger)
                version = 1
            }
            while version < schemaVersion {
                for statement in migrations[version - 1] {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                version += 1
                try await connection.query("UPDATE schema_version SET version = \(version)", logger: logger)
            }
        }
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
        run: RunID, step: StepID?, state: String, message: String, on connection: PostgresConnection
    ) async throws {
        try await connection.query(
            "SELECT pg_advisory_xact_lock(\(LockKey.transitions.rawValue))", logger: logger)
        try await connection.query(
            """
            INSERT INTO transition (run, step, state, at, message)
            VALUES (\(run.rawValue), \(step?.rawValue), \(state), extract(epoch from clock_timestamp()), \(message))
            """, logger: logger)
        try await connection.query("SELECT pg_notify(\(channel), '')", logger: logger)
    }

    // MARK: Runs

    public func createRun(_ run: RunRecord, plan: Plan) async throws {
        let stored = StoredPlan(plan)
        try await transaction { connection in try await Self.insert(run, plan: plan, stored: stored, connection) }
    }

    static func insert(_ run: RunRecord, plan: Plan, stored: StoredPlan, _ connection: PostgresConnection)
        async throws
    {
        let before = String(decoding: try JSONEncoder().encode(run.before), as: UTF8.self)
        let inserted = try await rows(
            """
            INSERT INTO run (id, organization, package, inventory, state, created, plan, before, twin)
            VALUES (\(run.id.rawValue), \(run.organization), \(run.package), \(run.inventory), \(run.state.rawValue),
                \(run.created), \(stored.header), \(before), \(run.twin?.rawValue))
            ON CONFLICT (id) DO NOTHING RETURNING id
            """, on: connection)
        guard !inserted.isEmpty else { throw RunExists(run: run.id) }
        // One statement for every step, however many: arrays, not a round trip per step.
        let ids = plan.steps.map(\.id.rawValue)
        let actions = plan.steps.map(\.action.rawValue)
        let positions = plan.steps.indices.map { Int64($0) }
        try await connection.query(
            """
            INSERT INTO step (run, id, action, position, state, detail)
            SELECT \(run.id.rawValue), s.id, s.action, s.position, 'pending', s.detail
            FROM unnest(\(ids)::text[], \(actions)::text[], \(positions)::bigint[], \(stored.steps)::text[])
                AS s(id, action, position, detail)
            """, logger: logger)
        try await addTransition(run: run.id, step: nil, state: "created", message: "", on: connection)
    }

    public func createOwnedRun(
        _ record: RunRecord, id: RunID?, plan: Plan, owner: LeaseOwner, expiry: Double, claims: [Claim],
        target: RunTarget, inventoryText: String?
    ) async throws -> Lease {
        let stored = StoredPlan(plan)
        return try await transaction { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(LockKey.ownership.rawValue))", logger: logger)
            var record = record
            if let id {
                record.id = id
            } else {
                record.id = try await Self.nextRunName(connection)
            }
            try await Self.insert(record, plan: plan, stored: stored, connection)
            try await connection.query(
                "UPDATE run SET target = \(target.rawValue), inventory_text = \(inventoryText) WHERE id = \(record.id.rawValue)",
                logger: logger)
            return try await Self.acquire(run: record.id, owner: owner, expiry: expiry, claims: claims, connection)
        }
    }

    static func nextRunName(_ connection: PostgresConnection) async throws -> RunID {
        OwnershipDecision.nextRunName(
            existing: Set(try await rows("SELECT id FROM run", on: connection).map { try $0["id"].decode(String.self) }))
    }

    public func run(_ id: RunID) async throws -> RunRecord? {
        try await query(
            "SELECT id, organization, package, inventory, state, created, before, twin FROM run WHERE id = \(id.rawValue)"
        ).first.map(Self.record)
    }

    public func state(of run: RunID) async throws -> RunState? {
        try await query("SELECT state FROM run WHERE id = \(run.rawValue)").first.map {
            RunState(rawValue: try $0["state"].decode(String.self)) ?? .halted
        }
    }

    public func runs() async throws -> [RunRecord] {
        try await query(
            "SELECT id, organization, package, inventory, state, created, before, twin FROM run ORDER BY created, id"
        ).map(Self.record)
    }

    static func record(_ row: PostgresRandomAccessRow) throws -> RunRecord {
        RunRecord(
            id: RunID(try row["id"].decode(String.self)), organization: try row["organization"].decode(String.self),
            package: try row["package"].decode(String.self), inventory: try row["inventory"].decode(String.self),
            state: RunState(rawValue: try row["state"].decode(String.self)) ?? .halted,
            created: try row["created"].decode(Double.self),
            before: (try? JSONDecoder().decode(
                [String: String].self, from: Data(try row["before"].decode(String.self).utf8))) ?? [:],
            twin: try row["twin"].decode(String?.self).map { TwinName($0) })
    }

    public func plan(of run: RunID) async throws -> Plan? {
        guard let row = try await query("SELECT plan FROM run WHERE id = \(run.rawValue)").first else { return nil }
        let steps = try await query(
            "SELECT detail FROM step WHERE run = \(run.rawValue) AND detail IS NOT NULL ORDER BY position"
        ).map { try $0["detail"].decode(String.self) }
        return try StoredPlan.assemble(header: try row["plan"].decode(String.self), steps: steps)
    }

    public func unfinishedPart(of run: RunID) async throws -> UnfinishedPart? {
        guard let row = try await query("SELECT plan FROM run WHERE id = \(run.rawValue)").first else { return nil }
        let kept = UnfinishedPart.alwaysKept.map(\.rawValue)
        let rows = try await query(
            """
            SELECT id, state, detail FROM step
            WHERE run = \(run.rawValue) AND (state <> 'succeeded' OR action = ANY(\(kept)::text[])) ORDER BY position
            """
        ).map {
            (
                id: try $0["id"].decode(String.self), state: try $0["state"].decode(String.self),
                detail: try $0["detail"].decode(String?.self)
            )
        }
        if let part = try UnfinishedPart(header: try row["plan"].decode(String.self), rows: rows) { return part }
        guard let plan = try await plan(of: run) else { return nil }
        return UnfinishedPart(whole: plan, steps: try await steps(of: run))
    }

    public func steps(of run: RunID) async throws -> [StepRecord] {
        try await query(
            "SELECT id, action, state, attempts, message FROM step WHERE run = \(run.rawValue) ORDER BY position"
        ).map { row in
            StepRecord(
                id: StepID(try row["id"].decode(String.self)), action: try row["action"].decode(String.self),
                state: StepState(rawValue: try row["state"].decode(String.self)) ?? .pending,
                attempts: try row["attempts"].decode(Int.self), message: try row["message"].decode(String.self))
        }
    }

    func column(_ name: String, of run: RunID) async throws -> String? {
        try await query(PostgresQuery(unsafeSQL: "SELECT \(name) FROM run WHERE id = $1", binds: binds(run)))
            .first?[name].decode(String?.self)
    }

    func binds(_ run: RunID) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(run.rawValue)
        return binds
    }

    public func target(of run: RunID) async throws -> RunTarget {
        try RunTarget.stored(try await column("target", of: run), run: run, location: location)
    }

    public func inventoryText(of run: RunID) async throws -> String? { try await column("inventory_text", of: run) }

    public func setReleaseNotes(run: RunID, link: String) async throws {
        _ = try await query("UPDATE run SET release_notes = \(link) WHERE id = \(run.rawValue)")
    }

    public func releaseNotes(of run: RunID) async throws -> String? { try await column("release_notes", of: run) }

    // MARK: Progress

    public func begin(run: RunID, step: StepID) async throws {
        try await record(run: run, [.begin(step)])
    }

    public func finish(run: RunID, step: StepID, state: StepState, message: String) async throws {
        try await record(run: run, [.finish(step, state, message: message)])
    }

    /// Every change in one transaction of four statements, however many steps: the steps
    /// updated and the transitions appended from arrays, in the changes' order.
    public func record(run: RunID, _ changes: [StepChange]) async throws {
        guard !changes.isEmpty else { return }
        if changes.count == 1, let change = changes.first {
            try await write(run: run) { connection in try await Self.apply(change, run: run, on: connection) }
            return
        }
        var ids: [String] = [], states: [String] = [], messages: [String] = [], begins: [Bool] = []
        for change in changes {
            switch change {
            case .begin(let step):
                ids.append(step.rawValue)
                states.append(StepState.running.rawValue)
                messages.append("")
                begins.append(true)
            case .finish(let step, let state, let message):
                ids.append(step.rawValue)
                states.append(state.rawValue)
                messages.append(message)
                begins.append(false)
            }
        }
        let order = (0..<Int64(changes.count)).map { $0 }
        try await write(run: run) { connection in
            // A step changed twice in one batch (begun, then finished) ends as its last change says.
            try await connection.query(
                """
                UPDATE step SET state = c.state,
                    attempts = step.attempts + c.begins,
                    message = CASE WHEN c.begins > 0 AND c.last_is_begin THEN step.message ELSE c.message END
                FROM (
                    SELECT id, (array_agg(state ORDER BY n DESC))[1] AS state,
                        (array_agg(message ORDER BY n DESC))[1] AS message,
                        count(*) FILTER (WHERE is_begin)::int AS begins,
                        (array_agg(is_begin ORDER BY n DESC))[1] AS last_is_begin
                    FROM unnest(\(ids)::text[], \(states)::text[], \(messages)::text[], \(begins)::bool[],
                        \(order)::bigint[]) AS u(id, state, message, is_begin, n)
                    GROUP BY id
                ) AS c
                WHERE step.run = \(run.rawValue) AND step.id = c.id
                """, logger: logger)
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(LockKey.transitions.rawValue))", logger: logger)
            try await connection.query(
                """
                INSERT INTO transition (run, step, state, at, message)
                SELECT \(run.rawValue), u.id, u.state, extract(epoch from clock_timestamp()), u.message
                FROM unnest(\(ids)::text[], \(states)::text[], \(messages)::text[], \(order)::bigint[])
                    AS u(id, state, message, n)
                ORDER BY u.n
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(Self.channel), '')", logger: logger)
        }
    }

    /// One change in two statements, by the step's key.
    static func apply(_ change: StepChange, run: RunID, on connection: PostgresConnection) async throws {
        switch change {
        case .begin(let step):
            try await connection.query(
                """
                UPDATE step SET state = 'running', attempts = attempts + 1
                WHERE run = \(run.rawValue) AND id = \(step.rawValue)
                """, logger: logger)
            try await addTransition(run: run, step: step, state: "running", message: "", on: connection)
        case .finish(let step, let state, let message):
            try await connection.query(
                """
                UPDATE step SET state = \(state.rawValue), message = \(message)
                WHERE run = \(run.rawValue) AND id = \(step.rawValue)
                """, logger: logger)
            try await addTransition(run: run, step: step, state: state.rawValue, message: message, on: connection)
        }
    }

    public func setState(run: RunID, _ state: RunState, reason: String) async throws {
        try await write(run: run) { connection in
            try await connection.query(
                "UPDATE run SET state = \(state.rawValue) WHERE id = \(run.rawValue)", logger: logger)
            try await Self.addTransition(run: run, step: nil, state: state.rawValue, message: reason, on: connection)
        }
    }

    public func requestAbort(run: RunID) async throws -> RunState? {
        try await write(run: run) { connection in
            guard
                let row = try await Self.rows(
                    "SELECT state FROM run WHERE id = \(run.rawValue) FOR UPDATE", on: connection
                ).first,
                let current = RunState(rawValue: try row["state"].decode(String.self))
            else { return nil }
            guard !current.isFinished else { return current }
            try await connection.query("UPDATE run SET state = 'aborted' WHERE id = \(run.rawValue)", logger: logger)
            try await Self.addTransition(run: run, step: nil, state: "aborted", message: "", on: connection)
            return current
        }
    }

    public func recordOutput(run: RunID, step: StepID, output: String) async throws {
        try await write(run: run) { connection in
            _ = try await connection.query(
                "UPDATE step SET output = \(output) WHERE run = \(run.rawValue) AND id = \(step.rawValue)",
                logger: logger)
        }
    }

    public func outputs(of run: RunID) async throws -> [StepID: String] {
        var outputs: [StepID: String] = [:]
        for row in try await query(
            "SELECT id, output FROM step WHERE run = \(run.rawValue) AND output IS NOT NULL")
        {
            outputs[StepID(try row["id"].decode(String.self))] = try row["output"].decode(String.self)
        }
        return outputs
    }

    public func transitions(after sequence: Int64, run: RunID?) async throws -> [Transition] {
        let rows =
            if let run {
                try await query(
                    "SELECT * FROM transition WHERE sequence > \(sequence) AND run = \(run.rawValue) ORDER BY sequence")
            } else {
                try await query("SELECT * FROM transition WHERE sequence > \(sequence) ORDER BY sequence")
            }
        return try rows.map { row in
            Transition(
                sequence: try row["sequence"].decode(Int64.self), run: RunID(try row["run"].decode(String.self)),
                step: try row["step"].decode(String?.self).map { StepID($0) },
                state: try row["state"].decode(String.self),
                at: try row["at"].decode(Double.self), message: try row["message"].decode(String.self))
        }
    }

    public func markAll(run: RunID, _ state: StepState) async throws {
        _ = try await query("UPDATE step SET state = \(state.rawValue) WHERE run = \(run.rawValue)")
    }

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

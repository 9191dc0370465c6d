import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// The journal in SQLite (GRDB), in the state directory: runs, their plans, every step's
/// state and every transition with its time. Each write is a transaction SQLite makes
/// durable before it returns, so intent and results survive a `kill -9` or a power loss.
///
/// A journal can be fenced by a lease (`fenced(by:)`): every write of that run's steps and
/// state then checks, in the same transaction, that the lease is still this one, so a
/// controller that lost its run (paused, then taken over) changes nothing.
public final class SQLiteJournal: Journal {
    let database: DatabaseQueue
    /// The lease every write for its run must still hold; nil for a journal that drives no run.
    public let fence: Lease?

    public let location: String

    init(database: DatabaseQueue, fence: Lease?, location: String) {
        self.database = database
        self.fence = fence
        self.location = location
    }

    /// This journal, with every write for `lease.run` checked against the lease.
    public func fenced(by lease: Lease) -> any Journal { fencedJournal(by: lease) }

    /// The same, as this type (benchmarks and tests).
    public func fencedJournal(by lease: Lease) -> SQLiteJournal {
        SQLiteJournal(database: database, fence: lease, location: location)
    }

    /// Opens the journal at `path`, or makes a new one (readable by its owner only). A file
    /// that is empty, not a journal, damaged, or written by a newer Baton is refused
    /// (`JournalError.unusable`) and left as it is; one Baton may not write (a read-only state
    /// directory) is opened for reading, so its runs can still be inspected.
    public init(path: String) throws {
        fence = nil
        location = path
        let directory = (path as NSString).deletingLastPathComponent
        let folder = directory.isEmpty ? "." : directory
        if !FileManager.default.fileExists(atPath: folder) {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let readOnly =
            access(folder, W_OK) != 0 || (FileManager.default.fileExists(atPath: path) && access(path, W_OK) != 0)
        // Processes opening one state directory at once take turns, so that one never finds
        // the file another has just made, still empty, or its tables half made.
        let open = { () throws -> DatabaseQueue in try Self.open(path, readOnly: readOnly) }
        database = try readOnly ? open() : FileLock.withLock(path + ".lock", open)
    }

    /// Opens an existing journal for reading only, whoever may write it: nothing is created or
    /// migrated (shell completion reads run names this way).
    public init(readingOnly path: String) throws {
        fence = nil
        location = path
        database = try Self.open(path, readOnly: true)
    }

    static func open(_ path: String, readOnly: Bool) throws -> DatabaseQueue {
        if !readOnly, !FileManager.default.fileExists(atPath: path) { try create(path) }
        let exists = FileManager.default.fileExists(atPath: path)
        if exists { try checkHeader(path) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.readonly = readOnly
        // Write-ahead logging with a full sync on every commit: a committed transition
        // survives a power loss, at one fsync per commit.
        if !readOnly {
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
        }
        do {
            // Read-only: SQLite is told the file will not change (no locks, no shared-memory
            // file to create in a folder it may not write). But when the writer left its
            // write-ahead log beside the file (a process that ended without closing the journal),
            // the latest commits are only there: SQLite reads a WAL database read-only when its
            // `-wal` and `-shm` files exist and can be read, so it is opened that way, commits
            // included.
            let leftLog = [path + "-wal", path + "-shm"].allSatisfy { (name: String) in access(name, R_OK) == 0 }
            let location =
                readOnly && !leftLog
                ? "file:\(path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path)?immutable=1"
                : path
            let database = try DatabaseQueue(path: location, configuration: configuration)
            try database.read { db in try checkIntegrity(db, path: path, expectTables: exists) }
            if readOnly { return database }
            try database.writeWithoutTransaction { db in
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            }
            try migrator.migrate(database)
            return database
        } catch let error as DatabaseError {
            throw JournalError.unusable(path: path, reason: error.message ?? "\(error.resultCode)")
        }
    }

    /// Makes a new journal whole under another name, then renames it into place: a process
    /// killed meanwhile leaves no journal, never an empty or half-made one (which the next
    /// open would refuse). Called holding the state directory's journal lock.
    static func create(_ path: String) throws {
        let temporary = path + ".new"
        for leftover in ["", "-wal", "-shm", "-journal"] { unlink(temporary + leftover) }
        let created = Glibc.open(temporary, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
        guard created >= 0 else {
            throw JournalError.unusable(path: path, reason: "it cannot be made: \(DurableFileError.reason)")
        }
        close(created)
        do {
            let database = try DatabaseQueue(path: temporary)
            try database.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            }
            try migrator.migrate(database)
            try database.close()
        } catch let error as DatabaseError {
            unlink(temporary)
            throw JournalError.unusable(path: path, reason: error.message ?? "\(error.resultCode)")
        }
        let descriptor = Glibc.open(temporary, O_RDWR | O_CLOEXEC)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
        guard rename(temporary, path) == 0 else {
            throw JournalError.unusable(path: path, reason: "it cannot be made: \(DurableFileError.reason)")
        }
        DurableFile.syncDirectory(of: path)
    }

    /// An existing file must start as every SQLite database does.
    static func checkHeader(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw JournalError.unusable(path: path, reason: "it cannot be read (permissions?)")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        guard !header.isEmpty else {
            throw JournalError.unusable(
                path: path, reason: "it is empty; move it away to start a new journal, or restore it from a backup")
        }
        guard header == Data("SQLite format 3\0".utf8) else {
            throw JournalError.unusable(path: path, reason: "it is not a Baton journal (not an SQLite database)")
        }
    }

    /// SQLite's own check of every page, then: a database of another program, or of a newer
    /// Baton, is not used.
    static func checkIntegrity(_ db: Database, path: String, expectTables: Bool) throws {
        let result = try String.fetchAll(db, sql: "PRAGMA quick_check(5)")
        guard result == ["ok"] else {
            throw JournalError.unusable(
                path: path,
                reason:
                    "it is damaged (\(result.joined(separator: "; ").prefix(300))); restore it from a backup, or move it away to start anew"
            )
        }
        guard expectTables else { return }
        let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
        if !tables.isEmpty, !tables.contains("grdb_migrations") || !tables.contains("run") {
            throw JournalError.unusable(path: path, reason: "it is another program's database, not a Baton journal")
        }
        if tables.contains("grdb_migrations"), try migrator.hasBeenSuperseded(db) {
            throw JournalError.newer(location: path, detail: "a schema this one does not know")
        }
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
        migrator.registerMigration("v5: leases, claims and how approvals were given") { db in
            try db.execute(
                sql: """
                    CREATE TABLE lease (run TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
                        process_start INTEGER NOT NULL, instance TEXT NOT NULL, epoch INTEGER NOT NULL,
                        heartbeat REAL NOT NULL, acquired REAL NOT NULL, expiry REAL NOT NULL);
                    CREATE TABLE claim (resource TEXT PRIMARY KEY, run TEXT NOT NULL, label TEXT NOT NULL);
                    ALTER TABLE approval ADD COLUMN how TEXT NOT NULL DEFAULT 'baton approve';
                    ALTER TABLE approval ADD COLUMN user TEXT NOT NULL DEFAULT '';
                    ALTER TABLE run ADD COLUMN inventory_text TEXT;
                    """)
        }
        migrator.registerMigration("v6: token expiry and last use") { db in
            try db.execute(
                sql: """
                    ALTER TABLE token ADD COLUMN expires REAL;
                    ALTER TABLE token ADD COLUMN last_used REAL;
                    """)
        }
        migrator.registerMigration("v7: the lab twin a run acts on") { db in
            try db.execute(sql: "ALTER TABLE run ADD COLUMN twin TEXT")
        }
        // Each step's JSON beside its state, and the run's plan without its steps: a resume
        // reads only the steps left to do. Runs kept before keep their whole plan.
        migrator.registerMigration("v8: each step kept on its own") { db in
            try db.execute(sql: "ALTER TABLE step ADD COLUMN detail TEXT")
        }
        migrator.registerMigration("v9: a finished run's report kept, the rule behind each failure") { db in
            try db.execute(sql: "ALTER TABLE run ADD COLUMN report TEXT")
            try db.execute(sql: "ALTER TABLE transition ADD COLUMN rule TEXT")
        }
        migrator.registerMigration("v10: notifications owed to each receiver") { db in
            try createDeliveries(db)
        }
        return migrator
    }

    var now: Double { Date().timeIntervalSince1970 }

    public func createRun(_ run: RunRecord, plan: Plan) throws {
        let stored = StoredPlan(plan)
        try database.write { db in try Self.insert(run, plan: plan, stored: stored, db) }
    }

    static func insert(_ run: RunRecord, plan: Plan, stored: StoredPlan, _ db: Database) throws {
        do {
            try db.execute(
                sql:
                    "INSERT INTO run (id, organization, package, inventory, state, created, plan, before, twin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    run.id, run.organization, run.package.spelling, run.inventory, run.state.rawValue, run.created,
                    stored.header,
                    String(decoding: try JSONEncoder().encode(run.before), as: UTF8.self), run.twin?.rawValue,
                ])
            let statement = try db.cachedStatement(
                sql: "INSERT INTO step (run, id, action, position, state, detail) VALUES (?, ?, ?, ?, 'pending', ?)")
            for (position, step) in plan.steps.enumerated() {
                try statement.execute(arguments: [
                    run.id, step.id, step.action.rawValue, position, stored.steps[position],
                ])
            }
            try db.execute(
                sql: "INSERT INTO transition (run, state, at) VALUES (?, 'created', ?)",
                arguments: [run.id, Date().timeIntervalSince1970])
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
            throw RunExists(run: run.id)
        }
    }

    public func run(_ id: RunID) throws -> RunRecord? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.recordColumns) FROM run WHERE id = ?", arguments: [id]).map(
                Self.record)
        }
    }

    public func state(of run: RunID) throws -> RunState? {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT state FROM run WHERE id = ?", arguments: [run]).map {
                RunState(rawValue: $0) ?? .halted
            }
        }
    }

    public func runs() throws -> [RunRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.recordColumns) FROM run ORDER BY created").map(Self.record)
        }
    }

    /// A run's record without its plan (tens of megabytes for a large run), which the engine
    /// reads between steps.
    static let recordColumns = "id, organization, package, inventory, state, created, before, twin"

    static func record(_ row: Row) -> RunRecord {
        RunRecord(
            id: row["id"], organization: row["organization"], package: PackageID(row["package"] as String), inventory: row["inventory"],
            state: RunState(rawValue: row["state"]) ?? .halted, created: row["created"],
            before: (try? JSONDecoder().decode(
                [String: String].self, from: Data((row["before"] as String? ?? "{}").utf8))) ?? [:],
            twin: (row["twin"] as String?).map { TwinName($0) })
    }

    public func plan(of run: RunID) throws -> Plan? {
        let (header, steps) = try database.read { db in
            (
                try String.fetchOne(db, sql: "SELECT plan FROM run WHERE id = ?", arguments: [run]),
                try String?.fetchAll(
                    db, sql: "SELECT detail FROM step WHERE run = ? ORDER BY position", arguments: [run])
            )
        }
        return try header.map { try StoredPlan.assemble(header: $0, steps: steps.compactMap { $0 }) }
    }

    public func unfinishedPart(of run: RunID) throws -> UnfinishedPart? {
        let kept = UnfinishedPart.alwaysKept.map(\.rawValue)
        let read = try database.read { db -> (header: String, rows: [Row])? in
            guard let header = try String.fetchOne(db, sql: "SELECT plan FROM run WHERE id = ?", arguments: [run])
            else { return nil }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, state, detail FROM step
                    WHERE run = ? AND (state != 'succeeded' OR action IN (\(kept.map { _ in "?" }.joined(separator: ", "))))
                    ORDER BY position
                    """,
                arguments: StatementArguments([run.rawValue] + kept))
            return (header, rows)
        }
        guard let read else { return nil }
        let rows = read.rows.map {
            (id: $0["id"] as String, state: $0["state"] as String, detail: $0["detail"] as String?)
        }
        if let part = try UnfinishedPart(header: read.header, rows: rows) { return part }
        guard let plan = try plan(of: run) else { return nil }
        return UnfinishedPart(whole: plan, steps: try steps(of: run))
    }

    public func steps(of run: RunID) throws -> [StepRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM step WHERE run = ? ORDER BY position", arguments: [run]).map {
                row in
                StepRecord(
                    id: row["id"], action: row["action"], state: StepState(rawValue: row["state"]) ?? .pending,
                    attempts: row["attempts"], message: row["message"])
            }
        }
    }

    /// A write transaction for `run`'s progress: immediate (the write lock taken at once), and
    /// refused when this journal is fenced by a lease that another owner has taken since.
    func write<T>(run: RunID, _ body: (Database) throws -> T) throws -> T {
        try immediate { db in
            if let fence, fence.run == run { try Self.check(fence, db) }
            return try body(db)
        }
    }

    /// A write transaction that takes SQLite's write lock at its start (`BEGIN IMMEDIATE`), so
    /// what it reads cannot change under it in another process before it writes.
    func immediate<T>(_ body: (Database) throws -> T) throws -> T {
        try database.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.immediate) {
                result = try body(db)
                return .commit
            }
            guard let result else { throw JournalError.unusable(path: db.description, reason: "a write did not end") }
            return result
        }
    }

    static func check(_ fence: Lease, _ db: Database) throws {
        let current = try lease(fence.run, db)
        guard let current, current.epoch == fence.epoch, current.owner.instance == fence.owner.instance else {
            throw OwnershipError.leaseLost(run: fence.run, by: current)
        }
    }

    public func begin(run: RunID, step: StepID) throws {
        try record(run: run, [.begin(step)])
    }

    public func finish(run: RunID, step: StepID, state: StepState, message: String) throws {
        try record(run: run, [.finish(step, state, message: message)])
    }

    /// Every change in one transaction: one fsync however many steps.
    public func record(run: RunID, _ changes: [StepChange]) throws {
        guard !changes.isEmpty else { return }
        let at = now
        try write(run: run) { db in
            for change in changes {
                switch change {
                case .begin(let step):
                    try db.execute(
                        sql: "UPDATE step SET state = 'running', attempts = attempts + 1 WHERE run = ? AND id = ?",
                        arguments: [run, step])
                    try db.execute(
                        sql: "INSERT INTO transition (run, step, state, at) VALUES (?, ?, 'running', ?)",
                        arguments: [run, step, at])
                case .finish(let step, let state, let message, let rule):
                    try db.execute(
                        sql: "UPDATE step SET state = ?, message = ? WHERE run = ? AND id = ?",
                        arguments: [state.rawValue, message, run, step])
                    try db.execute(
                        sql: "INSERT INTO transition (run, step, state, at, message, rule) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: [run, step, state.rawValue, at, message, rule?.rawValue])
                }
            }
        }
    }

    public func setState(run: RunID, _ state: RunState, reason: String) throws {
        try write(run: run) { db in
            try db.execute(sql: "UPDATE run SET state = ? WHERE id = ?", arguments: [state.rawValue, run])
            try db.execute(
                sql: "INSERT INTO transition (run, state, at, message) VALUES (?, ?, ?, ?)",
                arguments: [run, state.rawValue, now, reason])
        }
    }

    /// Marks a run aborted unless it is finished (completed or aborted) already, in one
    /// transaction with the check; returns the state it had (nil: no such run).
    public func requestAbort(run: RunID) throws -> RunState? {
        try write(run: run) { db in
            guard let stored = try String.fetchOne(db, sql: "SELECT state FROM run WHERE id = ?", arguments: [run]),
                let current = RunState(rawValue: stored)
            else { return nil }
            guard !current.isFinished else { return current }
            try db.execute(sql: "UPDATE run SET state = 'aborted' WHERE id = ?", arguments: [run])
            try db.execute(
                sql: "INSERT INTO transition (run, state, at) VALUES (?, 'aborted', ?)", arguments: [run, now])
            return current
        }
    }

    public func approve(run: RunID, _ approval: ApprovalRecord) throws {
        try write(run: run) { db in
            if let first = try Row.fetchOne(
                db, sql: "SELECT * FROM approval WHERE run = ? AND gate = ?", arguments: [run, approval.gate])
            {
                throw JournalError.alreadyApproved(run: run, Self.approval(first))
            }
            try db.execute(
                sql: "INSERT INTO approval (run, gate, by, at, how, user) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [run, approval.gate, approval.by, approval.at, approval.how.rawValue, approval.user])
        }
    }

    public func approvalRecords(of run: RunID) throws -> [ApprovalRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM approval WHERE run = ? ORDER BY at", arguments: [run]).map(
                Self.approval)
        }
    }

    static func approval(_ row: Row) -> ApprovalRecord {
        ApprovalRecord(
            gate: row["gate"], by: row["by"], how: ApprovalMethod(rawValue: row["how"]) ?? .command, user: row["user"],
            at: row["at"])
    }

    public func approvals(of run: RunID) throws -> [String] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT gate FROM approval WHERE run = ?", arguments: [run])
        }
    }

    /// Sets every step of a run to `state` in one transaction (benchmarks and tests build
    /// finished runs with it).
    public func markAll(run: RunID, _ state: StepState) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE step SET state = ? WHERE run = ?", arguments: [state.rawValue, run])
        }
    }

    /// Every run's transitions, oldest first (`after` skips those already seen): what the
    /// server streams as events and turns into metrics.
    public func transitions(after sequence: Int64 = 0, run: RunID? = nil) throws -> [Transition] {
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
                    message: $0["message"], rule: ($0["rule"] as String?).map { Rule.ID(rawValue: $0) })
            }
        }
    }
}

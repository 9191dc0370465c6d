import BatonEngine
import BatonModel
import BatonPlan
import Foundation

/// Keeps one lab twin: in Baton's state directory (`DirectoryTwins`), or, when the journal is
/// one a team shares (PostgreSQL), in the journal, so that controllers on several machines
/// rehearse on one twin. A twin is kept as a snapshot and the actions performed on it since:
/// each action is one small durable write (appended to a file, or one row), and the snapshot
/// is written anew once the actions after it are many (`snapshotInterval`). Reading performs
/// the actions again on the snapshot: the twin is deterministic, so the result is the twin as
/// it was. A controller killed at any instant leaves either the twin before an action or the
/// twin after it, never half of one.
public struct LabStore: Sendable {
    public let directory: String
    public let twin: TwinName
    let keeper: any LabTwinKeeper
    /// Whether the twin is in a journal a team shares rather than the state directory.
    let inJournal: Bool

    /// The twin `twin` of `directory`, or of `journal` when that journal keeps twins.
    public init(directory: String, journal: (any Journal)? = nil, twin: TwinName = .standard) {
        self.directory = directory
        self.twin = twin
        if let keeper = journal as? any LabTwinKeeper {
            self.keeper = keeper
            inJournal = true
        } else {
            keeper = DirectoryTwins(directory: directory)
            inJournal = false
        }
    }

    /// The same place, another twin.
    public func named(_ twin: TwinName) -> LabStore {
        LabStore(keeper: keeper, inJournal: inJournal, directory: directory, twin: twin)
    }

    init(keeper: any LabTwinKeeper, inJournal: Bool, directory: String, twin: TwinName) {
        self.keeper = keeper
        self.inJournal = inJournal
        self.directory = directory
        self.twin = twin
    }

    /// "lab twin", or "lab twin 'blue'".
    var what: String { twin == .standard ? "lab twin" : "lab twin '\(twin)'" }
    var whereKept: String { inJournal ? "the journal at \(keeper.location)" : directory }

    /// Where the twin is, for messages: "the lab twin in .baton".
    public var place: String { "the \(what) in \(whereKept)" }

    /// What a run acting on this twin claims in the journal: no two live runs act on one twin.
    public var claim: Claim {
        Claim(resource: twin == .standard ? "lab" : "lab:\(twin.rawValue)", label: place)
    }

    /// The options that name this twin on the command line.
    var options: String {
        (inJournal ? " (with the same --journal)" : " --state \(directory)")
            + (twin == .standard ? "" : " --twin \(twin)")
    }

    /// Whether the twin is kept (its name listed, without reading it).
    public func exists() async throws -> Bool { try await keeper.labTwins().contains(twin) }

    /// The twins kept beside this one, by name.
    public func twins() async throws -> [TwinName] { try await keeper.labTwins() }

    /// The twin as saved last. Read under the twin's lock: a run that takes over another sees
    /// everything the other saved before it lost the run.
    public func load() async throws -> LabTwin {
        guard let twin = try await exclusively({ try await $0.load() }) else {
            let others = (try? await twins()) ?? []
            throw LabError.noTwin(
                what: "\(what) in \(whereKept)", create: "baton lab init INVENTORY\(options)", others: others,
                nearest: twin == .standard
                    ? nil : Spelling.closest(to: twin.rawValue, among: others.map(\.rawValue)).map { TwinName($0) })
        }
        return twin
    }

    /// Actions after a snapshot before the next snapshot is written: at least 1,000, and an
    /// eighth of the twin's history, so that snapshots cost little whatever the run's length
    /// and a read performs at most that many actions again.
    public static func snapshotInterval(history: Int) -> Int { max(1000, history / 8) }

    /// What may be done with the twin while its lock is held (`exclusively`).
    public struct Access: Sendable {
        let store: LabStore

        /// The twin as saved, or nil when there is none: the snapshot with the actions after
        /// it performed again.
        public func load() async throws -> LabTwin? {
            guard let stored = try await store.keeper.labTwin(store.twin) else { return nil }
            let unreadable = { (reason: String) in LabError.unreadable(path: store.place, reason: reason) }
            var twin: LabTwin
            do {
                twin = try JSONDecoder().decode(LabTwin.self, from: stored.snapshot)
            } catch {
                throw unreadable("\(error)")
            }
            for action in stored.actions where action.sequence > twin.history.count {
                guard action.sequence == twin.history.count + 1 else {
                    throw unreadable("action \(action.sequence) follows action \(twin.history.count)")
                }
                let step: Step
                do { step = try JSONDecoder().decode(Step.self, from: action.step) } catch {
                    throw unreadable("action \(action.sequence): \(error)")
                }
                _ = twin.perform(step)
            }
            return twin
        }

        /// Replaces the twin with `twin` (a new snapshot, no actions after it).
        public func save(_ twin: LabTwin) async throws {
            try await write(try .whole(twin))
        }

        public func write(_ write: TwinWrite) async throws {
            do {
                switch write {
                case .nothing: return
                case .actions(let actions): try await store.keeper.appendLabActions(store.twin, actions)
                case .snapshot(let data, let covering):
                    try await store.keeper.saveLabTwin(store.twin, snapshot: data, covering: covering)
                }
            } catch let error as DurableFileError {
                throw LabError.unwritable(directory: store.directory, reason: error.description)
            }
        }
    }

    /// Runs `body` holding the twin's lock: no other process reads or writes the twin meanwhile.
    public func exclusively<T: Sendable>(_ body: @Sendable (Access) async throws -> T) async throws -> T {
        let access = Access(store: self)
        return try await keeper.withLabLock(twin) { try await body(access) }
    }

    /// Replaces the twin. It is encoded before the lock is taken, so the lock is held only for
    /// the write. (A run saves through its `LabTarget`, which asks its lease under the lock first.)
    public func save(_ twin: LabTwin) async throws {
        let data = try TwinWrite.whole(twin)
        try await exclusively { access in try await access.write(data) }
    }

    public static func encode(_ twin: LabTwin) throws(LabError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { return try encoder.encode(twin) } catch {
            throw LabError.unreadable(path: "the lab twin", reason: "\(error)")
        }
    }
}

/// One durable write of a twin.
public enum TwinWrite: Sendable {
    case nothing
    /// Actions performed since the last write.
    case actions([TwinAction])
    /// The whole twin, holding actions up to `covering`.
    case snapshot(Data, covering: Int)

    /// `twin` whole, replacing what is kept.
    public static func whole(_ twin: LabTwin) throws(LabError) -> TwinWrite {
        .snapshot(try LabStore.encode(twin), covering: twin.history.count)
    }
}

/// What a twin's saves still have to write: the actions performed since the last write, and
/// how many actions of the twin's history the stored snapshot holds.
public struct TwinChanges: Sendable {
    var covered: Int
    var pending: [TwinAction] = []

    /// Changes to a twin as saved.
    public init(saved twin: LabTwin) { covered = twin.history.count }

    /// Notes `step`, just performed on `twin`.
    public mutating func performed(_ step: Step, on twin: LabTwin) throws {
        do {
            pending.append(TwinAction(sequence: twin.history.count, step: try JSONEncoder().encode(step)))
        } catch {
            throw LabError.unreadable(path: "the lab twin", reason: "\(error)")
        }
    }

    /// The write that makes every action performed on `twin` so far durable: the actions, or
    /// a new snapshot once the actions since the last one reach `LabStore.snapshotInterval`.
    public mutating func take(_ twin: LabTwin) throws -> TwinWrite {
        guard !pending.isEmpty else { return .nothing }
        defer { pending = [] }
        guard twin.history.count - covered >= LabStore.snapshotInterval(history: twin.history.count) else {
            return .actions(pending)
        }
        covered = twin.history.count
        return try .whole(twin)
    }
}

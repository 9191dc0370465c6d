import BatonEngine
import Foundation

/// Keeps the twin: in Baton's state directory (`lab.json`), or, when the journal is one a team
/// shares (PostgreSQL), in the journal, so that controllers on several machines rehearse on one
/// twin. Every save is atomic: in the directory the new state is written to a temporary file,
/// flushed to disk and renamed over the old one; in the journal it is one transaction. A
/// controller killed at any instant leaves either the state before an action or the state
/// after it, never half of one.
public struct LabStore: Sendable {
    public let directory: String
    /// The journal keeping the twin; nil when the state directory does.
    let keeper: (any LabTwinKeeper)?

    /// The twin of `directory`, or of `journal` when that journal keeps twins.
    public init(directory: String, journal: (any Journal)? = nil) {
        self.directory = directory
        self.keeper = journal as? any LabTwinKeeper
    }

    public var path: String { directory + "/lab.json" }

    /// Where the twin is, for messages: "the lab twin in .baton".
    public var place: String {
        if let keeper { return "the lab twin in the journal at \(keeper.location)" }
        return "the lab twin in \(directory)"
    }

    public func exists() async throws -> Bool {
        if let keeper { return try await keeper.labTwin() != nil }
        return FileManager.default.fileExists(atPath: path)
    }

    /// Held while the twin is read or written, so that one process's save and another's read
    /// never interleave.
    var lockPath: String { directory + "/lab.lock" }

    /// The twin as saved last. Read under the twin's lock: a run that takes over another sees
    /// everything the other saved before it lost the run.
    public func load() async throws -> LabTwin {
        guard let twin = try await exclusively({ try await $0.load() }) else {
            throw LabError.noTwin(directory: keeper?.location ?? directory)
        }
        return twin
    }

    /// What may be done with the twin while its lock is held (`exclusively`).
    public struct Access: Sendable {
        let store: LabStore

        /// The twin as saved, or nil when there is none.
        public func load() async throws -> LabTwin? {
            let data: Data?
            if let keeper = store.keeper {
                data = try await keeper.labTwin()
            } else {
                data = FileManager.default.contents(atPath: store.path)
            }
            guard let data else { return nil }
            do {
                return try JSONDecoder().decode(LabTwin.self, from: data)
            } catch {
                throw LabError.unreadable(path: store.keeper?.location ?? store.path, reason: "\(error)")
            }
        }

        public func save(_ twin: LabTwin) async throws { try await write(try LabStore.encode(twin)) }

        func write(_ data: Data) async throws {
            if let keeper = store.keeper {
                try await keeper.saveLabTwin(data)
                return
            }
            do {
                try DurableFile.replace(store.path, with: data)
            } catch {
                throw LabError.unwritable(directory: store.directory, reason: error.description)
            }
        }
    }

    /// Runs `body` holding the twin's lock: no other process reads or writes the twin meanwhile.
    public func exclusively<T: Sendable>(_ body: @Sendable (Access) async throws -> T) async throws -> T {
        let access = Access(store: self)
        if let keeper { return try await keeper.withLabLock { try await body(access) } }
        return try await FileLock.withLock(lockPath) { try await body(access) }
    }

    /// Saves the twin. It is encoded before the lock is taken, so the lock is held only for the
    /// write. (A run saves through its `LabTarget`, which asks its lease under the lock first.)
    public func save(_ twin: LabTwin) async throws {
        let data = try Self.encode(twin)
        try await exclusively { access in try await access.write(data) }
    }

    static func encode(_ twin: LabTwin) throws(LabError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { return try encoder.encode(twin) } catch {
            throw LabError.unreadable(path: "the lab twin", reason: "\(error)")
        }
    }
}

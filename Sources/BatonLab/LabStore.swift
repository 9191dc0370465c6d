import BatonEngine
import Foundation

/// Keeps the twin in Baton's state directory (`lab.json`). Every save is atomic: the new
/// state is written to a temporary file, flushed to disk and renamed over the old one, so a
/// controller killed at any instant leaves either the state before an action or the state
/// after it, never half of one.
public struct LabStore: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var path: String { directory + "/lab.json" }

    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Held while the twin is read or written, so that one process's save and another's read
    /// never interleave.
    var lockPath: String { directory + "/lab.lock" }

    /// The twin as saved last. Read under the twin's lock: a run that takes over another sees
    /// everything the other saved before it lost the run.
    public func load() throws -> LabTwin {
        guard let twin = try exclusively({ try $0.load() }) else { throw LabError.noTwin(directory: directory) }
        return twin
    }

    /// What may be done with the twin while its lock is held (`exclusively`).
    public struct Access {
        let store: LabStore

        /// The twin as saved, or nil when there is none.
        public func load() throws(LabError) -> LabTwin? {
            guard let data = FileManager.default.contents(atPath: store.path) else { return nil }
            do {
                return try JSONDecoder().decode(LabTwin.self, from: data)
            } catch {
                throw LabError.unreadable(path: store.path, reason: "\(error)")
            }
        }

        public func save(_ twin: LabTwin) throws(LabError) { try write(try LabStore.encode(twin)) }

        func write(_ data: Data) throws(LabError) {
            do {
                try DurableFile.replace(store.path, with: data)
            } catch {
                throw LabError.unwritable(directory: store.directory, reason: error.description)
            }
        }
    }

    /// Runs `body` holding the twin's lock: no other process reads or writes the twin meanwhile.
    public func exclusively<T>(_ body: (Access) throws -> T) throws -> T {
        try FileLock.withLock(lockPath) { try body(Access(store: self)) }
    }

    /// Saves the twin. `fence` is asked under the twin's lock, right before the write: a run
    /// that lost its lease throws there and changes nothing. The twin is encoded before the
    /// lock is taken, so the lock is held only for the write.
    public func save(_ twin: LabTwin, fence: () throws -> Void = {}) throws {
        let data = try Self.encode(twin)
        try exclusively { access in
            try fence()
            try access.write(data)
        }
    }

    static func encode(_ twin: LabTwin) throws(LabError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { return try encoder.encode(twin) } catch {
            throw LabError.unreadable(path: "the lab twin", reason: "\(error)")
        }
    }
}

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
    public func load() throws(LabError) -> LabTwin {
        let data: Data?
        do {
            data = try FileLock.withLock(lockPath) { FileManager.default.contents(atPath: path) }
        } catch {
            throw LabError.unreadable(path: path, reason: "\(error)")
        }
        guard let data else {
            throw LabError.noTwin(directory: directory)
        }
        do {
            return try JSONDecoder().decode(LabTwin.self, from: data)
        } catch {
            throw LabError.unreadable(path: path, reason: "\(error)")
        }
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

        public func save(_ twin: LabTwin) throws(LabError) {
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                try DurableFile.replace(store.path, with: try encoder.encode(twin))
            } catch {
                throw LabError.unwritable(directory: store.directory, reason: "\(error)")
            }
        }
    }

    /// Runs `body` holding the twin's lock: no other process reads or writes the twin meanwhile.
    public func exclusively<T>(_ body: (Access) throws -> T) throws -> T {
        try FileLock.withLock(lockPath) { try body(Access(store: self)) }
    }

    /// Saves the twin. `fence` is asked under the twin's lock, right before the write: a run
    /// that lost its lease throws there and changes nothing.
    public func save(_ twin: LabTwin, fence: () throws -> Void = {}) throws {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = try encoder.encode(twin)
            try FileLock.withLock(lockPath) {
                try fence()
                try DurableFile.replace(path, with: data)
            }
        } catch let error as DurableFileError {
            throw LabError.unwritable(directory: directory, reason: error.description)
        } catch let error as OwnershipError {
            throw error
        } catch {
            throw LabError.unwritable(directory: directory, reason: "\(error)")
        }
    }
}

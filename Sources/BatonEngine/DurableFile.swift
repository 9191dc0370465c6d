import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Replaces a file so that a process killed at any instant, or a power loss, leaves either
/// the old contents or the new, never half of either: write a temporary file, flush it to
/// disk, rename it over the old one, flush the directory. Targets keep the state that says
/// what they did this way, before the journal hears of it.
public enum DurableFile {
    public static func replace(_ path: String, with data: Data) throws(DurableFileError) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            // A state directory made here is its owner's alone, as the journal's is.
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw DurableFileError.cannotCreate(directory: directory, reason: "\(error)")
        }
        // A name of this process's own: two processes saving at once never share a half-written file.
        let temporary = path + ".\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw DurableFileError.cannotWrite(path: temporary, reason: DurableFileError.reason)
        }
        let written = data.withUnsafeBytes { buffer in write(descriptor, buffer.baseAddress, buffer.count) }
        let flushed = fsync(descriptor)
        close(descriptor)
        guard written == data.count, flushed == 0 else {
            unlink(temporary)
            throw DurableFileError.cannotWrite(path: temporary, reason: DurableFileError.reason)
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw DurableFileError.cannotReplace(path: path, reason: DurableFileError.reason)
        }
        syncDirectory(of: path)
    }

    /// Flushes the directory holding `path`, so that a rename into it survives a power loss.
    public static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let folder = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }
}

/// What the file system refused, with the path and the system's reason.
public enum DurableFileError: Error, Sendable, CustomStringConvertible {
    case cannotCreate(directory: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case cannotReplace(path: String, reason: String)
    case cannotLock(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotCreate(let directory, let reason): "cannot create \(directory): \(reason)"
        case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
        case .cannotReplace(let path, let reason): "cannot replace \(path): \(reason)"
        case .cannotLock(let path, let reason): "cannot lock \(path): \(reason)"
        }
    }

    public static var reason: String { String(cString: strerror(errno)) }
}

/// An advisory lock on a file beside the state it guards (`flock`), held for a closure:
/// processes that share a state directory take turns, and the lock goes with a process that
/// dies holding it.
public enum FileLock {
    public static func withLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        guard let descriptor = try lock(path) else { return try body() }
        defer { unlock(descriptor) }
        return try body()
    }

    /// The same for an asynchronous body: the lock is held across its suspensions (`flock`
    /// belongs to the open file, not to a thread).
    public static func withLock<T>(_ path: String, _ body: () async throws -> T) async throws -> T {
        guard let descriptor = try lock(path) else { return try await body() }
        defer { unlock(descriptor) }
        return try await body()
    }

    /// The locked file's descriptor; nil in a folder this process may only read, where the
    /// file is not there to lock.
    static func lock(_ path: String) throws -> Int32? {
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if descriptor < 0, errno == EACCES || errno == EROFS {
            // A folder this process may only read: lock the file if it is there, else read
            // without a lock (whoever can write here keeps the file whole by renaming).
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            if descriptor < 0 { return nil }
        }
        guard descriptor >= 0 else {
            throw DurableFileError.cannotLock(path: path, reason: DurableFileError.reason)
        }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let reason = DurableFileError.reason
                close(descriptor)
                throw DurableFileError.cannotLock(path: path, reason: reason)
            }
        }
        return descriptor
    }

    static func unlock(_ descriptor: Int32) {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

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
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DurableFileError("cannot create \(directory): \(error)")
        }
        // A name of this process's own: two processes saving at once never share a half-written file.
        let temporary = path + ".\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw DurableFileError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let written = data.withUnsafeBytes { buffer in write(descriptor, buffer.baseAddress, buffer.count) }
        let flushed = fsync(descriptor)
        close(descriptor)
        guard written == data.count, flushed == 0 else {
            unlink(temporary)
            throw DurableFileError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw DurableFileError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let folder = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }
}

public struct DurableFileError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An advisory lock on a file beside the state it guards (`flock`), held for a closure:
/// processes that share a state directory take turns, and the lock goes with a process that
/// dies holding it.
public enum FileLock {
    public static func withLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw DurableFileError("cannot lock \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw DurableFileError("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }
}

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

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

    public func load() throws(LabError) -> LabTwin {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LabError(
                "no lab twin in \(directory): create one with 'baton lab init INVENTORY --state \(directory)'")
        }
        do {
            return try JSONDecoder().decode(LabTwin.self, from: data)
        } catch {
            throw LabError("\(path) is not a lab twin Baton can read: \(error)")
        }
    }

    public func save(_ twin: LabTwin) throws(LabError) {
        let data: Data
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            data = try encoder.encode(twin)
        } catch {
            throw LabError("cannot write the lab twin to \(directory): \(error)")
        }
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw LabError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { buffer in write(descriptor, buffer.baseAddress, buffer.count) }
        let flushed = fsync(descriptor)
        close(descriptor)
        guard written == data.count, flushed == 0 else {
            unlink(temporary)
            throw LabError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw LabError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let folder = open(directory, O_RDONLY)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }
}

import BatonEngine
import BatonModel
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Lab twins kept as files in a state directory: the default twin in `lab.json`, a twin named
/// NAME in `lab-NAME.json`; beside each, the actions performed since (`.actions`, one line per
/// action: its number, a tab, the step's JSON) and the lock (`.lock`). A snapshot is replaced
/// atomically (`DurableFile`); an action is appended and flushed to disk before it counts. A
/// line cut short by a crash is no action: it is ignored when read and cut off before the
/// next append.
public struct DirectoryTwins: LabTwinKeeper {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var location: String { directory }

    func base(_ twin: TwinName) -> String {
        directory + (twin == .standard ? "/lab" : "/lab-\(twin.rawValue)")
    }

    public func snapshotPath(_ twin: TwinName) -> String { base(twin) + ".json" }
    func actionsPath(_ twin: TwinName) -> String { base(twin) + ".actions" }
    func lockPath(_ twin: TwinName) -> String { base(twin) + ".lock" }

    public func withLabLock<T: Sendable>(_ twin: TwinName, _ body: @Sendable () async throws -> T) async throws -> T {
        try await FileLock.withLock(lockPath(twin)) { try await body() }
    }

    public func labTwin(_ twin: TwinName) async throws -> StoredTwin? {
        guard let snapshot = FileManager.default.contents(atPath: snapshotPath(twin)) else { return nil }
        return StoredTwin(snapshot: snapshot, actions: try actions(twin))
    }

    public func saveLabTwin(_ twin: TwinName, snapshot: Data, covering: Int) async throws {
        // Actions the new snapshot does not hold belong to the twin it replaces: they go
        // first, so that a crash before the snapshot is written never performs them on it.
        if try actions(twin).contains(where: { $0.sequence > covering }) { try dropActions(twin) }
        try DurableFile.replace(snapshotPath(twin), with: snapshot)
        try dropActions(twin)
    }

    func dropActions(_ twin: TwinName) throws {
        guard unlink(actionsPath(twin)) == 0 || errno == ENOENT else {
            throw DurableFileError.cannotWrite(path: actionsPath(twin), reason: DurableFileError.reason)
        }
    }

    public func appendLabActions(_ twin: TwinName, _ actions: [TwinAction]) async throws {
        guard !actions.isEmpty else { return }
        let path = actionsPath(twin)
        let descriptor = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DurableFileError.cannotWrite(path: path, reason: DurableFileError.reason) }
        defer { close(descriptor) }
        try Self.cutTornLine(descriptor, path: path)
        let data = Self.lines(actions)
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(descriptor) == 0 else {
            throw DurableFileError.cannotWrite(path: path, reason: DurableFileError.reason)
        }
    }

    public func labTwins() async throws -> [TwinName] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> TwinName? in
            if name == "lab.json" { return .standard }
            guard name.hasPrefix("lab-"), name.hasSuffix(".json") else { return nil }
            let twin = String(name.dropFirst(4).dropLast(5))
            return TwinName.isValidName(twin) ? TwinName(twin) : nil
        }.sorted()
    }

    /// The actions after the snapshot, in the order written; a last line without its end is
    /// one a crash cut short, and is not an action.
    func actions(_ twin: TwinName) throws -> [TwinAction] {
        guard let data = FileManager.default.contents(atPath: actionsPath(twin)) else { return [] }
        var actions: [TwinAction] = []
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        lines.removeLast()  // after the last newline: empty, or a line cut short
        for (index, line) in lines.enumerated() {
            guard let tab = line.firstIndex(of: UInt8(ascii: "\t")),
                let sequence = Int(String(decoding: line[line.startIndex..<tab], as: UTF8.self))
            else {
                throw LabError.unreadable(path: actionsPath(twin), reason: "line \(index + 1) is not an action")
            }
            actions.append(TwinAction(sequence: sequence, step: Data(line[line.index(after: tab)...])))
        }
        return actions
    }

    static func lines(_ actions: [TwinAction]) -> Data {
        var data = Data()
        for action in actions {
            data.append(contentsOf: "\(action.sequence)\t".utf8)
            data.append(action.step)
            data.append(UInt8(ascii: "\n"))
        }
        return data
    }

    /// Cuts off a last line a crash left without its end, so that the next action starts a
    /// line of its own.
    static func cutTornLine(_ descriptor: Int32, path: String) throws {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw DurableFileError.cannotWrite(path: path, reason: DurableFileError.reason)
        }
        var size = Int(status.st_size)
        guard size > 0 else { return }
        var byte: UInt8 = 0
        guard pread(descriptor, &byte, 1, off_t(size - 1)) == 1 else {
            throw DurableFileError.cannotWrite(path: path, reason: DurableFileError.reason)
        }
        guard byte != UInt8(ascii: "\n") else { return }
        while size > 0 {
            guard pread(descriptor, &byte, 1, off_t(size - 1)) == 1 else { break }
            if byte == UInt8(ascii: "\n") { break }
            size -= 1
        }
        guard ftruncate(descriptor, off_t(size)) == 0 else {
            throw DurableFileError.cannotWrite(path: path, reason: DurableFileError.reason)
        }
    }
}

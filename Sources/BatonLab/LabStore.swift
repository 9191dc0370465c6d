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
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try DurableFile.replace(path, with: try encoder.encode(twin))
        } catch let error as DurableFileError {
            throw LabError(error.description)
        } catch {
            throw LabError("cannot write the lab twin to \(directory): \(error)")
        }
    }
}

import BatonEngine
import BatonStore
import Foundation
import GRDB
import Testing

/// A new SQLite journal is made whole under another name and renamed into place, so a process
/// killed while making it never leaves an empty or half-made `journal.sqlite` (which the next
/// command would refuse, as the crash harness once found).
@Suite("Making a SQLite journal")
struct SQLiteJournalCreationTests {
    @Test("what a killed process left while making a journal is cleared; the journal appears whole")
    func leftovers() throws {
        let directory = NSTemporaryDirectory() + "baton-create-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/journal.sqlite"
        // A process killed while making the journal: an empty file and a stray log, under the
        // name it was being made with.
        _ = FileManager.default.createFile(atPath: path + ".new", contents: Data())
        _ = FileManager.default.createFile(atPath: path + ".new-wal", contents: Data("torn".utf8))
        let journal = try SQLiteJournal(path: path)
        #expect(try journal.runs().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: path + ".new"))
        #expect(!FileManager.default.fileExists(atPath: path + ".new-wal"))
        // Whole: an SQLite database with Baton's tables, readable by its owner only.
        let header = try #require(FileHandle(forReadingAtPath: path)).readData(ofLength: 16)
        #expect(header == Data("SQLite format 3\0".utf8))
        let tables = try DatabaseQueue(path: path).read {
            try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        #expect(tables.contains("run") && tables.contains("grdb_migrations"))
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
    }
}

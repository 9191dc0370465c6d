import BatonLab
import BatonRuns
import BatonStore
import Foundation
import Testing

@testable import BatonServer

@Suite("The server's parts")
struct ServerPartsTests {
    @Test("a token is kept only as its hash, names its holder and role, and unknown tokens are nobody")
    func tokens() async throws {
        let directory = NSTemporaryDirectory() + "baton-tokens-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try SQLiteJournal(path: directory + "/journal.sqlite")
        let tokens = AccessTokens(journal: journal)
        let first = try await tokens.create(name: "alice", role: .approver)
        let second = try await tokens.create(name: "olga", role: .operator)
        #expect(first != second)
        #expect(first.hasPrefix("baton_") && first.count > 40)
        #expect(try await tokens.caller(token: first) == Caller(name: "alice", role: .approver))
        #expect(try await tokens.caller(token: second)?.role == .operator)
        #expect(try await tokens.caller(token: first + "x") == nil)
        let stored = try journal.tokens()
        #expect(stored.allSatisfy { $0.hash.count == 64 && $0.hash != first && $0.hash != second })
        let bytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/journal.sqlite"))
        #expect(bytes.range(of: Data(first.utf8)) == nil)
        await #expect(throws: (any Error).self) { try await tokens.create(name: "alice", role: .viewer) }
        #expect(try journal.revokeToken(name: "alice"))
        #expect(try await tokens.caller(token: first) == nil)
    }

    @Test("a path matches a route pattern segment by segment")
    func routePatterns() {
        #expect(MethodNotAllowed.matches("/api/runs/:id/abort", "/api/runs/run-1/abort"))
        #expect(!MethodNotAllowed.matches("/api/runs/:id/abort", "/api/runs/run-1"))
        #expect(!MethodNotAllowed.matches("/api/runs", "/api/plans"))
        #expect(MethodNotAllowed.matches("/", "/"))
    }

    @Test("run names are short words")
    func runNames() {
        #expect(RunService.isRunName("run-1"))
        #expect(RunService.isRunName("2026.11_night"))
        #expect(!RunService.isRunName(""))
        #expect(!RunService.isRunName("../x"))
        #expect(!RunService.isRunName(String(repeating: "a", count: 65)))
    }
}

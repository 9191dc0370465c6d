import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import BatonStore
import BatonTestSupport
import Foundation
import GRDB
import Testing

/// The two journal backends Baton ships.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }
}

/// One journal of a backend, new and empty, removed after the test.
struct Fixture: Sendable {
    let journal: any Journal
    let address: String
    let server: PostgresServer?
    let directory: String

    static func make(_ backend: Backend) async throws -> Fixture {
        let directory = NSTemporaryDirectory() + "baton-journal-\(UUID().uuidString)"
        switch backend {
        case .sqlite:
            let address = "sqlite:\(directory)/journal.sqlite"
            return Fixture(
                journal: try await open(address), address: address, server: nil,
                directory: directory)
        case .postgres:
            let server = try PostgresServer.shared()
            let address = try server.newDatabase()
            return Fixture(
                journal: try await open(address), address: address, server: server,
                directory: directory)
        }
    }

    /// Another controller's view of the same journal (its own connection or file handle).
    func reopen() async throws -> any Journal { try await Self.open(address) }

    /// Opens a journal, waiting as long as a test machine busy with every other suite needs.
    static func open(_ address: String) async throws -> any Journal {
        BackgroundWork.process.startForHarness()
        return try await JournalLocation.parse(address).open(timeout: .seconds(120))
    }

    func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

func withJournal(_ backend: Backend, _ body: (Fixture) async throws -> Void) async throws {
    let fixture = try await Fixture.make(backend)
    defer { fixture.tearDown() }
    try await body(fixture)
}

/// A small plan to record: a synthetic organization's.
func samplePlan(servers: Int = 6, clusters: Int = 1) throws -> Plan {
    let inventory = SyntheticOrganization.make(servers: servers, clusters: clusters)
    let package = try #require(PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" })
    return try Planner(inventory: inventory, package: package).plan()
}

extension Journal {
    /// A new run owned by `owner` (a 30 s lease), with the parts a test cares about.
    func start(
        _ id: RunID?, plan: Plan, owner name: String = "a", claims: [Claim] = [], target: RunTarget = .lab,
        inventoryText: String? = nil
    ) async throws -> Lease {
        try await createOwnedRun(
            BatonStoreTests.record(id ?? ""), id: id, plan: plan, owner: owner(name), expiry: 30, claims: claims,
            target: target,
            inventoryText: inventoryText)
    }
}

func owner(_ name: String) -> LeaseOwner {
    LeaseOwner(host: "controller-\(name)", pid: 4242, processStart: 1, instance: "instance-\(name)")
}

func record(_ id: RunID = "") -> RunRecord {
    RunRecord(
        id: id, organization: "Contoso", package: "exchange-2003-sp2", inventory: "contoso.yaml", state: .running,
        created: Date().timeIntervalSince1970, before: ["MAIL1": "6944"])
}

/// Every backend behaves the same: the same suite, unchanged, against each.
@Suite("Journal conformance (SQLite and PostgreSQL)", .serialized)
struct JournalConformanceTests {
    @Test(
        "runs, plans and steps are kept as given; names are given out in order and never twice",
        arguments: Backend.allCases)
    func runsAndPlans(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let journal = fixture.journal
            let plan = try samplePlan()
            let first = try await journal.start(nil, plan: plan)
            let second = try await journal.start(
                nil, plan: plan, target: .hosts, inventoryText: "organization: Contoso\n")
            #expect(first.run == "run-1" && second.run == "run-2")
            await #expect(throws: RunExists.self) {
                _ = try await journal.start("run-1", plan: plan)
            }
            let stored = try #require(try await journal.run("run-1"))
            #expect(stored.organization == "Contoso" && stored.state == .running && stored.before == ["MAIL1": "6944"])
            #expect(try await journal.runs().map(\.id) == ["run-1", "run-2"])
            #expect(try await journal.run("nothing") == nil)
            #expect(try await journal.plan(of: "run-1") == plan)
            #expect(try await journal.plan(of: "nothing") == nil)
            let steps = try await journal.steps(of: "run-1")
            #expect(steps.map(\.id) == plan.steps.map(\.id))
            #expect(steps.allSatisfy { $0.state == .pending && $0.attempts == 0 })
            #expect(try await journal.target(of: "run-1") == .lab)
            #expect(try await journal.target(of: "run-2") == .hosts)
            #expect(try await journal.inventoryText(of: "run-2") == "organization: Contoso\n")
            #expect(try await journal.inventoryText(of: "run-1") == nil)
            try await journal.setReleaseNotes(run: "run-1", link: "https://support.example/kb/836993")
            #expect(try await journal.releaseNotes(of: "run-1") == "https://support.example/kb/836993")
        }
    }

    @Test(
        "every transition is kept in order; outputs, aborts and states as the engine writes them",
        arguments: Backend.allCases)
    func progress(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let journal = fixture.journal
            let plan = try samplePlan()
            try await journal.createRun(record("r"), plan: plan)
            let step = plan.steps[1].id
            try await journal.begin(run: "r", step: step)
            try await journal.recordOutput(run: "r", step: step, output: "Setup completed")
            try await journal.finish(run: "r", step: step, state: .failed, message: "timed out")
            try await journal.begin(run: "r", step: step)
            try await journal.finish(run: "r", step: step, state: .succeeded, message: "done")
            try await journal.setState(run: "r", .halted, reason: "a step failed")
            let stored = try #require(try await journal.steps(of: "r").first { $0.id == step })
            #expect(stored.state == .succeeded && stored.attempts == 2 && stored.message == "done")
            #expect(try await journal.outputs(of: "r") == [step: "Setup completed"])
            let transitions = try await journal.transitions(run: "r")
            #expect(transitions.map(\.state) == ["created", "running", "failed", "running", "succeeded", "halted"])
            #expect(transitions.map(\.sequence) == transitions.map(\.sequence).sorted())
            #expect(transitions.last?.message == "a step failed")
            let later = try await journal.transitions(after: transitions[2].sequence, run: nil)
            #expect(later.map(\.state) == ["running", "succeeded", "halted"])
            #expect(try await journal.requestAbort(run: "r") == .halted)
            #expect(try await journal.run("r")?.state == .aborted)
            #expect(try await journal.state(of: "r") == .aborted)
            #expect(try await journal.state(of: "nothing") == nil)
            #expect(try await journal.requestAbort(run: "r") == .aborted, "finished stays finished")
            #expect(try await journal.requestAbort(run: "nothing") == nil)
            // One commit for several changes (group commit), applied in their order.
            let (third, fourth) = (plan.steps[2].id, plan.steps[3].id)
            try await journal.record(
                run: "r", [.begin(third), .begin(fourth), .finish(third, .succeeded, message: "installed")])
            let batch = try await journal.steps(of: "r").filter { [third, fourth].contains($0.id) }
            #expect(batch.map(\.state) == [.succeeded, .running])
            #expect(batch.map(\.attempts) == [1, 1] && batch[0].message == "installed" && batch[1].message == "")
            let newest = try await journal.transitions(run: "r").suffix(3)
            #expect(
                newest.map(\.step) == [third, fourth, third]
                    && newest.map(\.state) == ["running", "running", "succeeded"])
            try await journal.markAll(run: "r", .succeeded)
            #expect(try await journal.steps(of: "r").allSatisfy { $0.state == .succeeded })
        }
    }

    @Test(
        "approvals are append-only: the first approver stays; the audit trail keeps every act",
        arguments: Backend.allCases)
    func approvalsAndAudit(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let journal = fixture.journal
            try await journal.createRun(record("r"), plan: try samplePlan())
            let first = ApprovalRecord(gate: "backups-verified", by: "olga", how: .api, user: "olga", at: 100)
            try await journal.approve(run: "r", first)
            do {
                try await journal.approve(
                    run: "r", ApprovalRecord(gate: "backups-verified", by: "mallory", how: .command, user: "m", at: 200)
                )
                Issue.record("a second approval of one gate was accepted")
            } catch JournalError.alreadyApproved(_, let kept) {
                #expect(kept == first)
            }
            #expect(try await journal.approvals(of: "r") == ["backups-verified"])
            #expect(try await journal.approvalRecords(of: "r") == [first])
            try await journal.audit(run: "r", action: "started", by: "olga")
            try await journal.audit(run: "r", action: "aborted", by: "ivan")
            #expect(try await journal.auditRecords(of: "r").map(\.action) == ["started", "aborted"])
            #expect(try await journal.auditRecords(of: "r").map(\.by) == ["olga", "ivan"])
        }
    }

    @Test("access tokens: kept by hash, one per name, touched, revoked", arguments: Backend.allCases)
    func tokens(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let journal = fixture.journal
            let token = AccessTokenRecord(
                hash: String(repeating: "a", count: 64), name: "olga", role: .approver, created: 1)
            try await journal.addToken(token)
            await #expect(throws: (any Error).self) {
                try await journal.addToken(
                    AccessTokenRecord(hash: String(repeating: "b", count: 64), name: "olga", role: .viewer, created: 2))
            }
            #expect(try await journal.token(hash: token.hash)?.role == .approver)
            #expect(try await journal.token(hash: "unknown") == nil)
            try await journal.touchToken(hash: token.hash)
            #expect(try await journal.tokens().first?.lastUsed != nil)
            #expect(try await journal.revokeToken(name: "olga"))
            #expect(try await !journal.revokeToken(name: "olga"))
            #expect(try await journal.tokens().isEmpty)
        }
    }

    @Test(
        "a lease has one owner; a lost lease writes nothing; claims keep two runs off one machine",
        arguments: Backend.allCases)
    func leasesAndFencing(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let journal = fixture.journal
            let other = try await fixture.reopen()
            let plan = try samplePlan()
            let lab = [Claim(resource: "lab", label: "the lab twin")]
            let lease = try await journal.start("r", plan: plan, claims: lab)
            #expect(lease.epoch == 1)
            #expect(try await other.lease(of: "r")?.owner == owner("a"))
            #expect(try await other.liveClaim("lab")?.run == "r")
            // Another controller is refused the run and its machines while the owner is live.
            await #expect(throws: OwnershipError.self) {
                _ = try await other.acquire(run: "r", owner: owner("b"), expiry: 30, claims: lab)
            }
            await #expect(throws: OwnershipError.self) {
                _ = try await other.start("s", plan: plan, owner: "b", claims: lab)
            }
            #expect(try await other.run("s") == nil, "a refused run leaves nothing behind")
            let renewed = try await journal.renew(lease)
            #expect(renewed.heartbeat >= lease.heartbeat)
            let fenced = journal.fenced(by: lease)
            try await fenced.begin(run: "r", step: plan.steps[0].id)
            try await fenced.confirmLease()
            // The owner lets go; the other controller takes the run over, epoch 2.
            try await journal.release(lease)
            #expect(try await other.liveClaim("lab") == nil)
            let taken = try await other.acquire(run: "r", owner: owner("b"), expiry: 30, claims: lab)
            #expect(taken.epoch == 2)
            // The first owner's fenced journal now changes nothing.
            let before = try await other.steps(of: "r")
            await #expect(throws: OwnershipError.self) {
                try await fenced.finish(run: "r", step: plan.steps[0].id, state: .succeeded, message: "late")
            }
            await #expect(throws: OwnershipError.self) { try await fenced.setState(run: "r", .completed, reason: "") }
            await #expect(throws: OwnershipError.self) { try await fenced.confirmLease() }
            await #expect(throws: OwnershipError.self) { _ = try await journal.renew(lease) }
            #expect(try await other.steps(of: "r") == before)
            #expect(try await other.run("r")?.state == .running)
        }
    }

    @Test("a fenced journal outlives the journal it was made from", arguments: Backend.allCases)
    func fencedOutlivesItsOrigin(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let plan = try samplePlan()
            var fenced: (any Journal)?
            do {
                let origin = try await fixture.reopen()
                let lease = try await origin.start("r", plan: plan)
                fenced = origin.fenced(by: lease)
            }
            let journal = try #require(fenced)
            try await journal.record(run: "r", [.begin(plan.steps[0].id), .begin(plan.steps[1].id)])
            try await journal.record(run: "r", [.finish(plan.steps[0].id, .succeeded, message: "ok")])
            let states = try await fixture.journal.steps(of: "r").prefix(2).map(\.state)
            #expect(states == [.succeeded, .running])
        }
    }

    @Test("controllers racing for one machine: exactly one of them gets it", arguments: Backend.allCases)
    func race(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let plan = try samplePlan(servers: 3, clusters: 0)
            var journals: [any Journal] = []
            for _ in 0..<6 { journals.append(try await fixture.reopen()) }
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for (index, journal) in journals.enumerated() {
                    group.addTask {
                        do {
                            _ = try await journal.start(
                                nil, plan: plan, owner: "\(index)",
                                claims: [Claim(resource: "host:mail1", label: "host MAIL1")], target: .hosts)
                            return true
                        } catch is OwnershipError {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
            #expect(try await fixture.journal.runs().count == 1)
        }
    }

    @Test(
        "a run's plan reads back whole, its unfinished part alone; a run whose plan was kept whole reads the same",
        arguments: Backend.allCases)
    func unfinishedPart(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let journal = fixture.journal
            let plan = try samplePlan(servers: 3, clusters: 1)
            try await journal.createRun(record("r"), plan: plan)
            #expect(try await journal.plan(of: "r") == plan)
            // The steps done up to a virtual server's resources taken offline, then one running,
            // one failed.
            let offline = try #require(plan.steps.firstIndex { $0.action == .resourcesOffline })
            let done = plan.steps.prefix(offline + 1).map { StepChange.finish($0.id, .succeeded, message: "") }
            let others = plan.steps.dropFirst(offline + 1)
            try await journal.record(
                run: "r",
                done + [.begin(others.first!.id), .finish(others.dropFirst().first!.id, .failed, message: "")])
            let expected = UnfinishedPart(whole: plan, steps: try await journal.steps(of: "r"))
            let part = try #require(try await journal.unfinishedPart(of: "r"))
            #expect(part.plan == expected.plan && part.state == expected.state)
            #expect(part.plan.steps.count < plan.steps.count && part.state.values.contains(.running))
            #expect(part.plan.steps.contains { $0.action == .resourcesOffline && part.state[$0.id] == .succeeded })
            #expect(try await journal.unfinishedPart(of: "none") == nil)

            // Kept as an earlier Baton kept it: the whole plan with the run, nothing with its steps.
            let whole = JSONRenderer.render(plan)
            switch backend {
            case .sqlite:
                let database = try DatabaseQueue(path: fixture.directory + "/journal.sqlite")
                try await database.write { db in
                    try db.execute(sql: "UPDATE run SET plan = ?", arguments: [whole])
                    try db.execute(sql: "UPDATE step SET detail = NULL")
                }
                try database.close()
            case .postgres:
                let server = try #require(fixture.server)
                let database = String(fixture.address.split(separator: "/").last!.split(separator: "?").first!)
                try server.sql(
                    "UPDATE baton.run SET plan = $plan$\(whole)$plan$; UPDATE baton.step SET detail = NULL",
                    database: database)
            }
            #expect(try await journal.plan(of: "r") == plan)
            let old = try #require(try await journal.unfinishedPart(of: "r"))
            #expect(old.plan == expected.plan && old.state == expected.state)
        }
    }

    @Test(
        "a failure's rule is kept with its transition, grouped or not; a finished run's report is kept as written",
        arguments: Backend.allCases)
    func rulesAndKeptReports(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let journal = fixture.journal
            let plan = try samplePlan()
            try await journal.createRun(record("r"), plan: plan)
            let (first, second) = (plan.steps[0].id, plan.steps[1].id)
            try await journal.record(run: "r", [.begin(first)])
            try await journal.record(
                run: "r", [.finish(first, .failed, message: "setup refused", rule: .mxNoDowngrade), .begin(second)])
            try await journal.record(run: "r", [.finish(second, .failed, message: "no rule")])
            let failed = try await journal.transitions(run: "r").filter { $0.state == "failed" }
            #expect(failed.map(\.rule) == [.mxNoDowngrade, nil], "\(failed)")
            #expect(failed.map(\.message) == ["setup refused", "no rule"])
            #expect(try await journal.keptReport(of: "r") == nil)
            try await journal.keepReport(run: "r", #"{"run":"r"}"#)
            #expect(try await journal.keptReport(of: "r") == #"{"run":"r"}"#)
            #expect(try await fixture.reopen().keptReport(of: "r") == #"{"run":"r"}"#)
        }
    }

    @Test("a journal written by a newer Baton is refused and left unchanged", arguments: Backend.allCases)
    func newerSchema(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            try await fixture.journal.createRun(record("r"), plan: try samplePlan())
            switch backend {
            case .sqlite:
                let path = fixture.directory + "/journal.sqlite"
                let database = try DatabaseQueue(path: path)
                try await database.write { db in
                    try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from a newer Baton')")
                }
                try database.close()
            case .postgres:
                let server = try #require(fixture.server)
                let database = String(fixture.address.split(separator: "/").last!.split(separator: "?").first!)
                try server.sql(
                    "INSERT INTO baton.schema_migrations (identifier) VALUES ('v99: from a newer Baton')",
                    database: database)
            }
            do {
                _ = try await fixture.reopen()
                Issue.record("a journal of a newer Baton was opened")
            } catch JournalError.newer(_, let detail) {
                #expect(!detail.isEmpty)
            }
        }
    }
}

@Suite("The PostgreSQL journal's schema history")
struct PostgresSchemaHistoryTests {
    @Test("a journal that kept one schema number has it recorded by name; a number beyond this Baton's is refused")
    func numberedVersionAdopted() async throws {
        try await withJournal(.postgres) { fixture in
            try await fixture.journal.createRun(record("r"), plan: try samplePlan())
            let server = try #require(fixture.server)
            let database = String(fixture.address.split(separator: "/").last!.split(separator: "?").first!)
            func numbered(_ version: Int) throws {
                try server.sql(
                    """
                    DELETE FROM baton.schema_migrations;
                    CREATE TABLE IF NOT EXISTS baton.schema_version (version INTEGER NOT NULL);
                    DELETE FROM baton.schema_version;
                    INSERT INTO baton.schema_version VALUES (\(version));
                    """, database: database)
            }
            try numbered(99)
            do {
                _ = try await fixture.reopen()
                Issue.record("a journal of a newer Baton was opened")
            } catch JournalError.newer(_, let detail) {
                #expect(detail.contains("from a newer Baton"), "\(detail)")
            }
            // Refused and left as it was.
            #expect(try server.sql("SELECT version FROM baton.schema_version", database: database) == "99\n")
            // A journal of that time: three migrations, without what the fourth and fifth add.
            try server.sql(
                """
                ALTER TABLE baton.run DROP COLUMN report; ALTER TABLE baton.transition DROP COLUMN rule;
                DROP TABLE baton.delivery
                """,
                database: database)
            try numbered(3)
            let reopened = try await fixture.reopen()
            #expect(try await reopened.run("r") != nil)
            let names = try server.sql(
                "SELECT identifier FROM baton.schema_migrations ORDER BY identifier", database: database)
            #expect(names.split(separator: "\n").count == 5 && names.hasPrefix("v1\nv2: "), "\(names)")
            #expect(
                try server.sql("SELECT to_regclass('baton.schema_version') IS NULL", database: database) == "t\n")
        }
    }
}

@Suite("The lab twin kept in PostgreSQL")
struct SharedLabTwinTests {
    @Test("controllers on two machines see one twin; saves under the lock never interleave")
    func sharedTwin() async throws {
        try await withJournal(.postgres) { fixture in
            let first = LabStore(directory: fixture.directory + "/a", journal: fixture.journal)
            let second = LabStore(directory: fixture.directory + "/b", journal: try await fixture.reopen())
            #expect(try await !first.exists())
            let twin = LabTwin(inventory: SyntheticOrganization.make(servers: 4, clusters: 1), seed: 3)
            try await first.save(twin)
            #expect(try await second.load() == twin)
            #expect(!FileManager.default.fileExists(atPath: fixture.directory + "/a/lab.json"))
            // Twenty read-modify-writes from both sides under the lock: none is lost.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    let store = index.isMultiple(of: 2) ? first : second
                    group.addTask {
                        try await store.exclusively { access in
                            var current = try #require(try await access.load())
                            current.clock += 1
                            try await access.save(current)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await first.load().clock == twin.clock + 20)
        }
    }
}

import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import BatonStore
import BatonTestSupport
import Foundation
import Testing

extension Fixture {
    /// Where this backend keeps twins: the state directory beside a SQLite journal, the
    /// journal itself with PostgreSQL.
    func keeper() -> any LabTwinKeeper {
        journal as? any LabTwinKeeper ?? DirectoryTwins(directory: directory)
    }

    func store(_ twin: TwinName = .standard, journal: (any Journal)? = nil) -> LabStore {
        LabStore(directory: directory, journal: journal ?? self.journal, twin: twin)
    }
}

/// Twins are kept the same way in a state directory and in PostgreSQL: a snapshot and the
/// actions performed since.
@Suite("Lab twins kept as a snapshot and actions (state directory and PostgreSQL)", .serialized)
struct TwinStoreTests {
    /// A twin of a synthetic organization and a plan for it long enough to cross a snapshot.
    func twinAndPlan(servers: Int) throws -> (LabTwin, Plan) {
        let inventory = SyntheticOrganization.make(servers: servers, clusters: servers / 10)
        let package = try #require(PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" })
        return (LabTwin(inventory: inventory, seed: 5), try Planner(inventory: inventory, package: package).plan())
    }

    @Test(
        "a run's actions, four at a time, read back as the twin was, through snapshots and actions",
        arguments: Backend.allCases)
    func replay(backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let (twin, plan) = try twinAndPlan(servers: 120)
            #expect(plan.steps.count > 1_000, "the plan crosses a snapshot")
            let store = fixture.store()
            try await store.save(twin)
            let target = LabTarget(twin: twin, store: store, speed: .instant)
            // Four at a time, as the engine does: the actions are written in the order performed.
            for start in stride(from: 0, to: plan.steps.count, by: 4) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for step in plan.steps[start..<min(start + 4, plan.steps.count)] {
                        group.addTask { _ = try await target.perform(step, run: "run-1") }
                    }
                    try await group.waitForAll()
                }
            }
            let performed = await target.snapshot
            #expect(performed.history.count == plan.steps.count)
            let kept = try #require(try await fixture.keeper().labTwin(.standard))
            #expect(kept.actions.count < plan.steps.count, "a snapshot was written on the way")
            #expect(!kept.actions.isEmpty)
            let other = LabStore(directory: fixture.directory, journal: try await fixture.reopen())
            #expect(try await other.load() == performed)
        }
    }

    @Test("twins of one place are separate, each under its own name", arguments: Backend.allCases)
    func named(backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let (twin, plan) = try twinAndPlan(servers: 10)
            let blue = fixture.store("blue")
            try await fixture.store().save(twin)
            try await blue.save(twin)
            let target = LabTarget(twin: twin, store: blue, speed: .instant)
            for step in plan.steps.prefix(20) { _ = try await target.perform(step, run: "run-1") }
            #expect(try await blue.load().history.count == 20)
            #expect(try await fixture.store().load() == twin)
            #expect(try await blue.twins() == ["blue", "default"])
            #expect(blue.claim.resource == "lab:blue")
            #expect(fixture.store().claim.resource == "lab")
            await #expect(throws: LabError.self) { try await fixture.store("green").load() }
        }
    }

    @Test("a new twin saved over an old one drops the old one's actions", arguments: Backend.allCases)
    func replaced(backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let (twin, plan) = try twinAndPlan(servers: 10)
            let store = fixture.store()
            try await store.save(twin)
            let target = LabTarget(twin: twin, store: store, speed: .instant)
            for step in plan.steps.prefix(30) { _ = try await target.perform(step, run: "run-1") }
            let fresh = LabTwin(inventory: SyntheticOrganization.make(servers: 10, clusters: 1), seed: 8)
            try await store.save(fresh)
            #expect(try await store.load() == fresh)
            #expect(try await fixture.keeper().labTwin(.standard)?.actions.isEmpty == true)
        }
    }

    @Test("a line cut short by a crash is no action, and the next action starts a line of its own")
    func tornLine() async throws {
        try await withJournal(.sqlite) { fixture in
            let (twin, plan) = try twinAndPlan(servers: 10)
            let store = fixture.store()
            try await store.save(twin)
            let first = LabTarget(twin: twin, store: store, speed: .instant)
            for step in plan.steps.prefix(5) { _ = try await first.perform(step, run: "run-1") }
            let path = fixture.directory + "/lab.actions"
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("6\t{\"phase\":\"prep".utf8))
            try handle.close()
            let loaded = try await store.load()
            #expect(loaded == (await first.snapshot))
            let second = LabTarget(twin: loaded, store: store, speed: .instant)
            for step in plan.steps[5..<8] { _ = try await second.perform(step, run: "run-1") }
            #expect(try await store.load() == (await second.snapshot))
            #expect(try await store.load().history.count == 8)
        }
    }

    @Test("actions that skip a number are refused, naming the twin")
    func gap() async throws {
        try await withJournal(.sqlite) { fixture in
            let (twin, _) = try twinAndPlan(servers: 10)
            try await fixture.store().save(twin)
            try Data("3\t{}\n".utf8).write(to: URL(fileURLWithPath: fixture.directory + "/lab.actions"))
            do {
                _ = try await fixture.store().load()
                Issue.record("a gap in the actions was read")
            } catch let error as LabError {
                #expect(error.description.contains("action 3 follows action 0"))
                #expect(error.description.contains("the lab twin in \(fixture.directory)"))
            }
        }
    }
}

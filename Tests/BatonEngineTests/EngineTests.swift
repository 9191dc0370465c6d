import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import BatonStore
import Foundation
import Synchronization
import Testing

/// A target whose actions take as long, and succeed as, the test says.
actor ScriptedTarget: Target {
    var performed: [StepID] = []
    var effective: Set<StepID> = []
    let delay: Duration
    let failing: Set<StepID>

    init(delay: Duration = .zero, failing: Set<StepID> = []) {
        self.delay = delay
        self.failing = failing
    }

    func perform(_ step: Step, run: RunID) async throws -> StepResult {
        performed.append(step.id)
        try await Task.sleep(for: delay)
        if failing.contains(step.id) { return StepResult(succeeded: false, message: "scripted failure") }
        effective.insert(step.id)
        return StepResult(succeeded: true, message: "done")
    }

    func hasTakenEffect(_ step: Step, run: RunID) async throws -> Bool { effective.contains(step.id) }

    func markEffective(_ id: StepID) { effective.insert(id) }
}

/// A target during whose action an operator runs `baton abort` from another shell.
struct AbortingTarget: Target {
    let inner = ScriptedTarget()
    let journal: SQLiteJournal
    let abortAt: StepID

    func perform(_ step: Step, run: RunID) async throws -> StepResult {
        if step.id == abortAt { try await journal.setState(run: run, .aborted) }
        return try await inner.perform(step, run: run)
    }

    func hasTakenEffect(_ step: Step, run: RunID) async throws -> Bool {
        try await inner.hasTakenEffect(step, run: run)
    }
}

@Suite("The engine")
struct EngineTests {
    func setUp() throws -> (SQLiteJournal, Plan, String) {
        let directory = NSTemporaryDirectory() + "baton-engine-\(UUID().uuidString)"
        let journal = try SQLiteJournal(path: directory + "/journal.sqlite")
        let inventory = SyntheticOrganization.make(servers: 20, clusters: 2)
        let package = try #require(PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" })
        let plan = try Planner(inventory: inventory, package: package).plan()
        try journal.createRun(
            RunRecord(id: "r", organization: "o", package: package.id, inventory: "i", state: .running, created: 0),
            plan: plan)
        return (journal, plan, directory)
    }

    @Test("runs every step once, never before its dependencies, within the parallel limit")
    func order() async throws {
        let (journal, plan, directory) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let target = ScriptedTarget()
        let state = try await Engine(
            journal: journal, target: target, options: EngineOptions(parallel: 3, approveAll: true), onEvent: { _ in }
        )
        .execute(run: "r")
        #expect(state == .completed)
        let performed = await target.performed
        #expect(Set(performed).count == performed.count)
        let position = Dictionary(uniqueKeysWithValues: performed.enumerated().map { ($1, $0) })
        for step in plan.steps where step.action != .approve {
            for before in step.after where plan.step(before)?.action != .approve {
                #expect(position[before]! < position[step.id]!, "\(before) before \(step.id)")
            }
        }
    }

    @Test("a failure blocks its dependents and halts; resume after the fix completes")
    func failureAndResume() async throws {
        let (journal, plan, directory) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let install = try #require(plan.steps.first { $0.action == .install })
        let first = try await Engine(
            journal: journal, target: ScriptedTarget(failing: [install.id]), options: EngineOptions(approveAll: true),
            onEvent: { _ in }
        ).execute(run: "r")
        #expect(first == .halted)
        let steps = Dictionary(uniqueKeysWithValues: try journal.steps(of: "r").map { ($0.id, $0) })
        #expect(steps[install.id]?.state == .failed)
        #expect(plan.steps.filter { $0.after.contains(install.id) }.allSatisfy { steps[$0.id]?.state == .blocked })
        let second = try await Engine(
            journal: journal, target: ScriptedTarget(), options: EngineOptions(approveAll: true), onEvent: { _ in }
        )
        .execute(run: "r")
        #expect(second == .completed)
    }

    @Test("an action past its time limit fails; if it finished meanwhile, resume does not redo it")
    func timeout() async throws {
        let (journal, plan, directory) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let slow = ScriptedTarget(delay: .seconds(5))
        let options = EngineOptions(approveAll: true, timeouts: [:], defaultTimeout: .milliseconds(50))
        let state = try await Engine(journal: journal, target: slow, options: options, onEvent: { _ in }).execute(
            run: "r")
        #expect(state == .halted)
        let failed = try #require(try journal.steps(of: "r").first { $0.state == .failed })
        #expect(failed.message.contains("did not finish within"))
        // The action finished on its own after all: resume asks the target and moves on.
        let target = ScriptedTarget()
        await target.markEffective(failed.id)
        let recovered = Mutex<[StepID]>([])
        let resumed = try await Engine(journal: journal, target: target, options: EngineOptions(approveAll: true)) {
            event in
            if case .recovered(let step, true) = event { recovered.withLock { $0.append(step.id) } }
        }.execute(run: "r")
        #expect(resumed == .completed)
        #expect(recovered.withLock { $0 } == [failed.id])
        #expect(!(await target.performed).contains(failed.id))
        #expect(plan.step(failed.id) != nil)
    }

    @Test("abort stops new work but brings a virtual server caught offline back online")
    func abortKeepsVirtualServersHome() async throws {
        let (journal, plan, directory) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let offline = try #require(plan.steps.first { $0.action == .resourcesOffline })
        let online = try #require(plan.steps.first { $0.action == .resourcesOnline && $0.group == offline.group })
        let target = AbortingTarget(journal: journal, abortAt: offline.id)
        let state = try await Engine(
            journal: journal, target: target, options: EngineOptions(parallel: 1, approveAll: true), onEvent: { _ in }
        )
        .execute(run: "r")
        #expect(state == .aborted)
        let steps = Dictionary(uniqueKeysWithValues: try journal.steps(of: "r").map { ($0.id, $0.state) })
        #expect(steps[online.id] == .succeeded)
        #expect(steps.values.contains(.blocked))
        let performed = await target.inner.performed
        #expect(
            !performed.contains { id in
                plan.steps.firstIndex { $0.id == id }! > plan.steps.firstIndex { $0.id == online.id }!
                    && plan.step(id)?.group != offline.group && plan.step(id)?.phase == online.phase
            })
    }

    @Test("--max-failed-hosts lets independent parts go on past a failure, as MaxFailedNodes does")
    func maxFailedHosts() async throws {
        let (strict, plan, first) = try setUp()
        let (tolerant, _, second) = try setUp()
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        let install = try #require(plan.steps.first { $0.action == .install })
        let halting = try await Engine(
            journal: strict, target: ScriptedTarget(failing: [install.id]),
            options: EngineOptions(parallel: 1, approveAll: true),
            onEvent: { _ in }
        ).execute(run: "r")
        let going = try await Engine(
            journal: tolerant, target: ScriptedTarget(failing: [install.id]),
            options: EngineOptions(parallel: 1, approveAll: true, maxFailedHosts: 1), onEvent: { _ in }
        ).execute(run: "r")
        #expect(halting == .halted && going == .halted)
        let doneStrict = try strict.steps(of: "r").filter { $0.state == .succeeded }.count
        let doneTolerant = try tolerant.steps(of: "r").filter { $0.state == .succeeded }.count
        #expect(doneTolerant > doneStrict)
        // Only what depends on the failed install is left.
        let blocked = Set(try tolerant.steps(of: "r").filter { $0.state == .blocked }.map(\.id))
        var dependsOnFailure = Set([install.id])
        for step in plan.steps where step.after.contains(where: dependsOnFailure.contains) {
            dependsOnFailure.insert(step.id)
        }
        #expect(blocked == dependsOnFailure.subtracting([install.id]))
    }

    @Test("with an approval poll, a run waits alive at its gate and goes on once someone approves")
    func waitsForApproval() async throws {
        let (journal, plan, directory) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gate = try #require(plan.steps.first { $0.action == .approve }?.gate)
        let waiting = Mutex(false)
        let engine = Engine(
            journal: journal, target: ScriptedTarget(), options: EngineOptions(approvalPoll: .milliseconds(10))
        ) { event in
            if case .waitingForApproval = event { waiting.withLock { $0 = true } }
        }
        let run = Task { try await engine.execute(run: "r") }
        while !waiting.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        try await Task.sleep(for: .milliseconds(100))
        // Still running: nothing behind the gate has started.
        #expect(try journal.run("r")?.state == .running)
        let installs = Set(plan.steps.filter { $0.action == .install }.map(\.id))
        #expect(try journal.steps(of: "r").filter { installs.contains($0.id) }.allSatisfy { $0.state == .pending })
        try journal.approve(
            run: "r", ApprovalRecord(gate: gate, by: "alice", how: .command, user: "alice", at: 0))
        #expect(try await run.value == .completed)
    }

    @Test("a stop request lets running steps finish, starts nothing new, and leaves the run resumable")
    func stopRequest() async throws {
        let (journal, _, directory) = try setUp()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stop = Mutex(false)
        let started = Mutex(0)
        let engine = Engine(
            journal: journal, target: ScriptedTarget(delay: .milliseconds(30)),
            options: EngineOptions(
                parallel: 2, approveAll: true, stopRequested: { stop.withLock { $0 } ? "the test stopped it" : nil })
        ) { event in
            if case .started = event {
                started.withLock { $0 += 1 }
                if started.withLock({ $0 }) == 5 { stop.withLock { $0 = true } }
            }
        }
        #expect(try await engine.execute(run: "r") == .halted)
        let steps = try journal.steps(of: "r")
        // Every step begun finished; at most one more began (it was being scheduled as the
        // stop came, two at a time), then nothing.
        let begun = steps.filter { $0.attempts > 0 && $0.action != "approve" }
        #expect(begun.allSatisfy { $0.state == .succeeded })
        #expect(begun.count == started.withLock { $0 })
        #expect((5...6).contains(begun.count))
        #expect(steps.contains { $0.message == "not started: the test stopped it; resume the run" })
        let resumed = try await Engine(
            journal: journal, target: ScriptedTarget(), options: EngineOptions(approveAll: true), onEvent: { _ in }
        ).execute(run: "r")
        #expect(resumed == .completed)
    }
}

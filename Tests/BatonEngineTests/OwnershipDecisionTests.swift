import BatonEngine
import BatonModel
import Foundation
import Testing

/// The one ownership decision both journals make (docs/architecture.md): tested by itself,
/// without a journal.
@Suite("Who may drive a run")
struct OwnershipDecisionTests {
    static let now = 1_000_000.0
    static func owner(_ instance: String, host: String = "elsewhere.example") -> LeaseOwner {
        LeaseOwner(host: host, pid: 4242, processStart: 7, instance: instance)
    }
    static func lease(_ run: RunID, _ instance: String, epoch: Int64 = 3, age: Double = 5, expiry: Double = 60) -> Lease {
        Lease(
            run: run, owner: owner(instance), epoch: epoch, heartbeat: now - age, acquired: now - 100, expiry: expiry)
    }

    @Test("a new run gets epoch 1; a dead, released or own lease is taken over with the epoch one more")
    func granted() throws {
        let first = try OwnershipDecision.grant(
            run: "run-1", to: Self.owner("a"), expiry: 60, previous: nil, claims: [], now: Self.now)
        #expect(first.epoch == 1 && first.heartbeat == Self.now && first.acquired == Self.now)
        for previous in [
            Self.lease("run-1", "b", age: 61),  // its heartbeat is older than its expiry
            Self.lease("run-1", "b", expiry: 0),  // released
            Self.lease("run-1", "a"),  // the same instance again
        ] {
            let lease = try OwnershipDecision.grant(
                run: "run-1", to: Self.owner("a"), expiry: 60, previous: previous, claims: [], now: Self.now)
            #expect(lease.epoch == 4 && lease.owner.instance == "a")
        }
    }

    @Test("a live owner keeps its run; a live run keeps the target it claims; its own claim is no conflict")
    func refused() {
        #expect(throws: OwnershipError.self) {
            try OwnershipDecision.grant(
                run: "run-1", to: Self.owner("a"), expiry: 60, previous: Self.lease("run-1", "b"), claims: [],
                now: Self.now)
        }
        let lab = Claim(resource: "lab", label: "the lab twin of .baton")
        do {
            _ = try OwnershipDecision.grant(
                run: "run-2", to: Self.owner("a"), expiry: 60, previous: nil,
                claims: [(lab, Self.lease("run-1", "b"))], now: Self.now)
            Issue.record("a claim held by a live run was granted")
        } catch {
            guard case .targetBusy(let what, let run, _) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(what == "the lab twin of .baton" && run == "run-1")
        }
        #expect(
            (try? OwnershipDecision.grant(
                run: "run-1", to: Self.owner("a"), expiry: 60, previous: nil,
                claims: [(lab, Self.lease("run-1", "a")), (lab, Self.lease("run-3", "c", age: 120))], now: Self.now))?
                .epoch == 1)
    }

    @Test("run names: one more than there are, or the first free after it")
    func runNames() {
        #expect(OwnershipDecision.nextRunName(existing: []) == "run-1")
        #expect(OwnershipDecision.nextRunName(existing: ["run-1", "run-2"]) == "run-3")
        #expect(OwnershipDecision.nextRunName(existing: ["run-2", "run-3"]) == "run-4")
        #expect(OwnershipDecision.nextRunName(existing: ["nightly", "run-2"]) == "run-3")
    }

    @Test("a process start time beyond Int64 is stored and read back without trapping")
    func overflow() {
        for start: UInt64 in [0, 7, UInt64(Int64.max), UInt64(Int64.max) + 1, .max] {
            #expect(OwnershipDecision.processStart(stored: OwnershipDecision.stored(processStart: start)) == start)
        }
        #expect(OwnershipDecision.stored(processStart: .max) == -1)
    }

    @Test("a run's stored target: none is the lab (older runs); an unknown one is an error, never the lab")
    func storedTarget() throws {
        #expect(try RunTarget.stored(nil, run: "run-1", location: "journal.sqlite") == .lab)
        #expect(try RunTarget.stored("hosts", run: "run-1", location: "journal.sqlite") == .hosts)
        #expect {
            try RunTarget.stored("hots", run: "run-7", location: "journal.sqlite")
        } throws: { error in
            "\(error)".contains("run-7 acts on 'hots'") && "\(error)".contains("journal.sqlite")
        }
    }
}

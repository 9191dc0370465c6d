import BatonEngine
import BatonModel
import BatonPlan
import BatonStore
import Foundation
import Testing

/// The notifications owed, the same on both backends: where each receiver has got to, one
/// sender at a time, a failed try kept with its backoff.
@Suite("Delivery ledger (SQLite and PostgreSQL)", .serialized)
struct DeliveryLedgerTests {
    @Test(
        "a receiver starts after the run's last transition, is held by one sender, and goes on from its place",
        arguments: Backend.allCases)
    func placesAndHolders(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let journal = fixture.journal
            let lease = try await journal.start("r", plan: try samplePlan())
            let fenced = journal.fenced(by: lease)
            try await fenced.setState(run: "r", .running)
            let before = try await journal.transitions(run: "r").last!.sequence
            try await journal.addReceivers(run: "r", [("hook", #"{"kind":"webhook"}"#), ("mail", "{}")])
            // Added again (a resume): kept as it was.
            try await journal.addReceivers(run: "r", [("hook", "changed")])
            var records = try await journal.deliveries(of: "r")
            #expect(records.map(\.receiver) == ["hook", "mail"])
            #expect(records.allSatisfy { $0.delivered == before && !$0.pending })
            #expect(records[0].settings == #"{"kind":"webhook"}"#)
            // Nothing owed: nothing to take.
            #expect(try await journal.takeDeliveries(holder: owner("a"), until: 1e12, run: nil).isEmpty)

            try await fenced.note(run: "r", "\(RunNote.waitingForApproval) release-notes (step s1)")
            let note = try await journal.transitions(run: "r").last!
            #expect(note.state == "running" && note.step == nil)
            #expect(try await journal.state(of: "r") == .running)
            let taken = try await journal.takeDeliveries(holder: owner("a"), until: 1e12, run: "r")
            #expect(taken.map(\.receiver) == ["hook", "mail"])
            // Another live sender gets nothing while the first holds them.
            let other = try await fixture.reopen()
            #expect(try await other.takeDeliveries(holder: owner("b"), until: 1e12, run: nil).isEmpty)
            // The holder itself takes them again.
            #expect(try await journal.takeDeliveries(holder: owner("a"), until: 1e12, run: nil).count == 2)

            try await journal.delivered(run: "r", receiver: "hook", through: note.sequence)
            try await journal.deliveryFailed(
                run: "r", receiver: "mail", attempts: 3, nextTry: 2e9, error: "connection refused")
            records = try await journal.deliveries(of: "r")
            #expect(records[0].delivered == note.sequence && !records[0].pending)
            #expect(records[1].pending && records[1].attempts == 3 && records[1].nextTry == 2e9)
            #expect(records[1].lastError == "connection refused")
            // A place never goes back.
            try await journal.delivered(run: "r", receiver: "hook", through: before)
            #expect(try await journal.deliveries(of: "r")[0].delivered == note.sequence)
            // Delivered at last: tries start again.
            try await journal.delivered(run: "r", receiver: "mail", through: note.sequence)
            #expect(try await journal.deliveries(of: "r")[1].attempts == 0)
        }
    }

    @Test("a hold runs out, and a sender whose process ended here holds nothing", arguments: Backend.allCases)
    func holdsEnd(_ backend: Backend) async throws {
        try await withJournal(backend) { fixture in
            let journal = fixture.journal
            let lease = try await journal.start("r", plan: try samplePlan())
            try await journal.addReceivers(run: "r", [("hook", "{}")])
            try await journal.fenced(by: lease).setState(run: "r", .halted, reason: "a step failed")
            let now = Date().timeIntervalSince1970
            #expect(try await journal.takeDeliveries(holder: owner("a"), until: now - 1, run: nil).count == 1)
            // Its hold is over: another sender takes it.
            #expect(try await journal.takeDeliveries(holder: owner("b"), until: now + 600, run: nil).count == 1)
            #expect(try await journal.takeDeliveries(holder: owner("a"), until: now + 600, run: nil).isEmpty)
            // A process of this machine that is gone (no such pid) holds nothing.
            let gone = LeaseOwner(
                host: LeaseOwner.current.host, pid: Int32.max - 1, processStart: 1, instance: "gone")
            try await journal.addReceivers(run: "r", [("mail", "{}")])
            try await journal.fenced(by: lease).note(run: "r", "a maintenance window is open")
            #expect(
                try await journal.takeDeliveries(holder: gone, until: now + 600, run: "r").map(\.receiver) == ["mail"])
            #expect(
                try await journal.takeDeliveries(holder: owner("c"), until: now + 600, run: "r").map(\.receiver) == [
                    "mail"
                ])
        }
    }
}

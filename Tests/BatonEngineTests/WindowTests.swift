import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import BatonRuns
import BatonStore
import Foundation
import Synchronization
import Testing

/// Maintenance windows with the real engine on the lab twin, on a fixed clock at high speed:
/// no step starts outside a window, no server's update starts unless it fits before the
/// window closes, and a run that reaches a window's end waits for the next; across midnight
/// and the night the clocks go forward.
@Suite("Maintenance windows, the real engine")
struct WindowTests {
    /// A run of exchange-2016-cu23 on a fresh twin of mx-two-member-dag.yaml with `windows`
    /// (inventory text) added, named `id`, in a state directory of its own.
    struct Rehearsal {
        let directory: String
        let inventory: Inventory
        let plan: Plan
        let journal: SQLiteJournal
        let service: RunService
        let owned: RunService.OwnedRun

        init(_ id: RunID, windows: String = "") async throws {
            directory = NSTemporaryDirectory() + "baton-windows-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("examples")
            let file = directory + "/org.yaml"
            try
                (try String(contentsOf: examples.appendingPathComponent("mx-two-member-dag.yaml"), encoding: .utf8)
                + windows).write(toFile: file, atomically: true, encoding: .utf8)
            inventory = try InventoryLoader.load(path: file, reservedPackageIDs: PackageCatalogue.builtInIDs)
            let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2016-cu23"))
            plan = try Planner(inventory: inventory, package: package).plan()
            journal = try SQLiteJournal(path: directory + "/journal.sqlite")
            service = RunService(journal: journal, stateDirectory: directory)
            owned = try await service.start(
                .init(
                    inventory: inventory, package: package, plan: plan, id: id, target: .lab, freshLab: true, by: "test"
                ))
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test(
        "nightly 01:00-05:00 Berlin with an hour's margin: the spring-forward night (three hours) is skipped, every update fits its night"
    )
    func nightly() async throws {
        let rehearsal = try await Rehearsal(
            "w",
            windows: """

                window-margin: 1h
                windows:
                  - {days: [mon, tue, wed, thu, fri, sat, sun], start: "01:00", end: "05:00", time-zone: Europe/Berlin}

                """)
        defer { rehearsal.remove() }
        let (inventory, plan, service, owned) = (
            rehearsal.inventory, rehearsal.plan, rehearsal.service, rehearsal.owned
        )
        // Saturday 28 March 2026, 23:00 UTC: midnight in Berlin, an hour before the window;
        // that night the clocks go forward at 02:00, so it is open three hours, not four.
        let origin = ISO8601DateFormatter().date(from: "2026-03-28T23:00:00Z")!
        // At 20,000 times real speed; the run's clock is the twin's, so a busy machine does
        // not make it run ahead.
        let speed = LabSpeed.factor(20_000)
        let window = inventory.windows[0]
        let starts = Mutex<[(Step, Date)]>([])
        let waits = Mutex<[Date]>([])
        let outcome = try await service.drive(
            owned, speed: speed, options: EngineOptions(approveAll: true), approvedBy: "test",
            windows: WindowSettings(
                rehearseAt: origin, onStart: { step, at in starts.withLock { $0.append((step, at)) } })
        ) { event in
            if case .waitingForWindow(let until, _) = event { waits.withLock { $0.append(until) } }
        }
        #expect(outcome.state == .completed)
        let durations = ActionDurations(of: plan).seconds(plan.steps, of: plan)
        let index = Dictionary(uniqueKeysWithValues: plan.steps.enumerated().map { ($1.id, $0) })
        var updateLength: [HostName: Int] = [:]
        var first: [HostName: StepID] = [:]
        // A member's update, as an administrator counts it: from its drain to its last step.
        for step in plan.steps where step.takesSlot {
            guard let host = step.host else { continue }
            if first[host] == nil, step.action == .drainTransport { first[host] = step.id }
            guard first[host] != nil else { continue }
            updateLength[host, default: 0] += durations[index[step.id]!]
        }
        let started = starts.withLock { $0 }
        var begun = Set<HostName>()
        for (step, at) in started where step.takesSlot {
            if let host = step.host, begun.contains(host) { continue }
            let slack = 0.0
            let open = try #require(
                window.occurrence(containing: at) ?? window.occurrence(containing: at.addingTimeInterval(-slack)),
                "\(step.id) \(step.summary) started at \(at), outside")
            if let host = step.host, first[host] == step.id {
                #expect(
                    at.addingTimeInterval(Double(updateLength[host]! + 3600) - slack) <= open.end,
                    "\(host)'s update started at \(at) would not end before \(open.end)")
                #expect(
                    at >= ISO8601DateFormatter().date(from: "2026-03-29T23:00:00Z")!, "an update on the short night")
                begun.insert(host)
            }
        }
        #expect(begun.count == first.count && first.count >= 2)
        #expect(!waits.withLock { $0 }.isEmpty)
    }

    @Test("halt outside the window: the run stops with nothing out of service, naming when the next opens")
    func haltOutside() async throws {
        let rehearsal = try await Rehearsal("h")
        defer { rehearsal.remove() }
        let (journal, service, owned) = (rehearsal.journal, rehearsal.service, rehearsal.owned)
        let window = try MaintenanceWindow.parse("Sat 22:00-Sun 04:00 Europe/Berlin").get()
        // Friday noon: the window is a day and a half away.
        let outcome = try await service.drive(
            owned, speed: .instant, options: EngineOptions(approveAll: true), approvedBy: "test",
            windows: WindowSettings(
                window: window, haltsOutside: true,
                rehearseAt: ISO8601DateFormatter().date(from: "2026-12-04T12:00:00Z")!))
        #expect(outcome.state == .halted)
        let steps = try journal.steps(of: "h")
        #expect(steps.allSatisfy { $0.state == .pending || $0.state == .blocked || $0.action == "approve" })
        #expect(
            steps.contains {
                $0.message.contains("outside its maintenance window") && $0.message.contains("2026-12-05 22:00")
            })
        #expect(try await service.outOfService("h").isEmpty)
    }
}

import BatonKnowledge
import BatonModel
import Foundation
import Testing

/// Maintenance windows: weekly, in an IANA time zone, across midnight and daylight-saving
/// changes, on a fixed clock.
@Suite("Maintenance windows")
struct MaintenanceWindowTests {
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    static func window(_ text: String) throws -> MaintenanceWindow {
        try MaintenanceWindow.parse(text).get()
    }

    @Test("Saturday 22:00 to Sunday 04:00 in Berlin: open across midnight, closed after, next a week on")
    func acrossMidnight() throws {
        let window = try Self.window("Sat 22:00-Sun 04:00 Europe/Berlin")
        // 2026-12-05 is a Saturday; Berlin is UTC+1 in December.
        let open = try #require(window.occurrence(containing: Self.date("2026-12-05T22:30:00Z")))
        #expect(open.start == Self.date("2026-12-05T21:00:00Z"))
        #expect(open.end == Self.date("2026-12-06T03:00:00Z"))
        #expect(window.occurrence(containing: Self.date("2026-12-06T02:59:00Z")) == open)
        #expect(window.occurrence(containing: Self.date("2026-12-06T03:00:00Z")) == nil)
        #expect(window.occurrence(containing: Self.date("2026-12-05T20:59:00Z")) == nil)
        #expect(window.next(after: Self.date("2026-12-06T03:30:00Z"))?.start == Self.date("2026-12-12T21:00:00Z"))
    }

    @Test("the night clocks go forward (Berlin, 2026-03-29): the window keeps its hours and is an hour shorter")
    func springForward() throws {
        let window = try Self.window("Sun 01:00-Sun 05:00 Europe/Berlin")
        let night = try #require(window.next(after: Self.date("2026-03-28T12:00:00Z")))
        #expect(night.start == Self.date("2026-03-29T00:00:00Z"))  // 01:00 CET
        #expect(night.end == Self.date("2026-03-29T03:00:00Z"))  // 05:00 CEST
        #expect(night.duration == 3 * 3600)
        // A start in the hour that does not exist that night opens at the next time that does.
        let skipped = try Self.window("Sun 02:30-Sun 04:00 Europe/Berlin")
        let short = try #require(skipped.next(after: Self.date("2026-03-28T12:00:00Z")))
        #expect(short.start == Self.date("2026-03-29T01:00:00Z"))  // 03:00 CEST
        #expect(short.end == Self.date("2026-03-29T02:00:00Z"))  // 04:00 CEST
    }

    @Test("the night clocks go back (Berlin, 2026-10-25): the window keeps its hours and is an hour longer")
    func fallBack() throws {
        let window = try Self.window("Sun 01:00-Sun 05:00 Europe/Berlin")
        let night = try #require(window.next(after: Self.date("2026-10-24T12:00:00Z")))
        #expect(night.start == Self.date("2026-10-24T23:00:00Z"))  // 01:00 CEST
        #expect(night.end == Self.date("2026-10-25T04:00:00Z"))  // 05:00 CET
        #expect(night.duration == 5 * 3600)
        #expect(window.occurrence(containing: Self.date("2026-10-25T03:30:00Z")) == night)
    }

    @Test("a window's text: days, times and an IANA zone; anything else is refused, saying why")
    func parsing() throws {
        let window = try Self.window("Fri 20:00-Mon 06:00 America/New_York")
        #expect(window.days == [.fri] && window.start == 20 * 60 && window.minutes == 58 * 60)
        #expect(try Self.window("sat 23:00-01:00 UTC").minutes == 120)
        for bad in [
            "Sat 22:00-Sun 04:00", "Sat 22:00-Sun 04:00 Mars/Olympus", "Caturday 22:00-Sun 04:00 UTC",
            "Sat 25:00-Sun 04:00 UTC", "Sat 22:00 UTC",
        ] {
            #expect(throws: WindowError.self, "\(bad)") { try Self.window(bad) }
        }
    }

    @Test("windows: in an inventory, for the organization, a site or a DAG; every mistake located")
    func inventory() throws {
        let text = """
            organization: woodgrove
            sites: [{name: NORTH}, {name: SOUTH}]
            servers:
              - {name: N1, product: exchange-2019, level: cu14, os: windows-2022, site: NORTH}
              - {name: N2, product: exchange-2019, level: cu14, os: windows-2022, site: NORTH}
            dags:
              - {name: DAG1, members: [N1, N2], witness: {server: FSW, site: NORTH}, databases: [{name: DB1, copies: [N1, N2]}]}
            window-margin: 15m
            windows:
              - {days: [sat], start: "22:00", end: "04:00", time-zone: Europe/Berlin}
              - {days: [sun], start: "01:00", end: "05:00", time-zone: Europe/Berlin, sites: [north], dags: [DAG1]}
            """
        let inventory = try InventoryLoader.parse(text: text, file: "w.yaml")
        #expect(inventory.windows.count == 2)
        #expect(inventory.windows[0].minutes == 6 * 60 && inventory.windows[0].covers(site: "SOUTH", dag: nil))
        #expect(inventory.windows[1].sites == ["NORTH"] && !inventory.windows[1].covers(site: "SOUTH", dag: nil))
        #expect(inventory.windowMargin == 900)
        let broken = text.replacingOccurrences(of: "[sat]", with: "[caturday]")
            .replacingOccurrences(of: "Europe/Berlin, sites", with: "Europe/Bern, sites")
            .replacingOccurrences(of: "dags: [DAG1]}", with: "dags: [DAG2]}")
        #expect {
            try InventoryLoader.parse(text: broken, file: "w.yaml")
        } throws: { error in
            let text = "\(error)"
            return text.contains("w.yaml:10:") && text.contains("caturday") && text.contains("Europe/Bern")
                && text.contains("DAG2") && text.contains("did you mean 'DAG1'")
        }
    }
}

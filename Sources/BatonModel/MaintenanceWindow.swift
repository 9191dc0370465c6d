import Foundation

/// A day of the week as a window names it.
public enum Weekday: String, Sendable, Hashable, CaseIterable, Codable {
    case mon, tue, wed, thu, fri, sat, sun

    /// Foundation's weekday number: Sunday 1 to Saturday 7.
    var number: Int { self == .sun ? 1 : Self.allCases.firstIndex(of: self)! + 2 }

    /// "Sat", "saturday", "SAT".
    public init?(name: some StringProtocol) {
        let lowered = name.lowercased()
        guard lowered.count >= 3, let day = Self.allCases.first(where: { lowered.hasPrefix($0.rawValue) }) else {
            return nil
        }
        let full = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        guard lowered.count == 3 || full.contains(lowered) else { return nil }
        self = day
    }
}

/// A weekly maintenance window a change board grants: it opens on each of `days` at `start`
/// (the local time of `timeZone`, an IANA name such as Europe/Berlin) and stays open `minutes`,
/// across midnight when they run past it. Opening and closing are local wall-clock times, so a
/// window keeps its hours across a daylight-saving change (and is an hour shorter or longer
/// that night); a start that does not exist that night (the hour skipped) opens at the next
/// time that does.
public struct MaintenanceWindow: Sendable, Hashable {
    public var days: [Weekday]
    /// Minutes after local midnight.
    public var start: Int
    /// How long it stays open, in minutes of local wall-clock time.
    public var minutes: Int
    public var timeZone: TimeZone
    /// The sites and DAGs it is for; both empty: the whole organization.
    public var sites: [String]
    public var dags: [HostName]
    public var location: SourceLocation?

    public init(
        days: [Weekday], start: Int, minutes: Int, timeZone: TimeZone, sites: [String] = [], dags: [HostName] = [],
        location: SourceLocation? = nil
    ) {
        self.days = days
        self.start = start
        self.minutes = minutes
        self.timeZone = timeZone
        self.sites = sites
        self.dags = dags
        self.location = location
    }

    var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// The occurrence opening on the local day of `day`, if the window opens that weekday.
    func occurrence(onDayOf day: Date) -> DateInterval? {
        let calendar = calendar
        let midnight = calendar.startOfDay(for: day)
        guard days.contains(where: { $0.number == calendar.component(.weekday, from: midnight) }) else { return nil }
        func at(_ offset: Int) -> Date? {
            guard let date = calendar.date(byAdding: .day, value: offset / 1440, to: midnight) else { return nil }
            return calendar.date(
                bySettingHour: (offset % 1440) / 60, minute: offset % 60, second: 0, of: date,
                matchingPolicy: .nextTime, repeatedTimePolicy: .first, direction: .forward)
        }
        guard let open = at(start), let close = at(start + minutes), close > open else { return nil }
        return DateInterval(start: open, end: close)
    }

    /// The occurrence open at `date` (its end excluded), if any.
    public func occurrence(containing date: Date) -> DateInterval? {
        let calendar = calendar
        // An occurrence open now opened at most `minutes` ago, a week at most.
        let back = min(8, minutes / 1440 + 2)
        for offset in stride(from: 0, through: -back, by: -1) {
            guard let day = calendar.date(byAdding: .day, value: offset, to: date),
                let occurrence = occurrence(onDayOf: day)
            else { continue }
            if occurrence.start <= date, date < occurrence.end { return occurrence }
        }
        return nil
    }

    /// The first occurrence that opens at or after `date`.
    public func next(after date: Date) -> DateInterval? {
        let calendar = calendar
        for offset in 0...8 {
            guard let day = calendar.date(byAdding: .day, value: offset, to: date),
                let occurrence = occurrence(onDayOf: day), occurrence.start >= date
            else { continue }
            return occurrence
        }
        return nil
    }

    /// Whether the window is for a server in `site` and DAG `dag`.
    public func covers(site: String?, dag: HostName?) -> Bool {
        if sites.isEmpty, dags.isEmpty { return true }
        if let site, sites.contains(where: { $0.lowercased() == site.lowercased() }) { return true }
        if let dag, dags.contains(dag) { return true }
        return false
    }

    /// "Sat 22:00-Sun 04:00 Europe/Berlin": the day and time it opens, the day and time it
    /// closes (within the week after), and an IANA time zone; nil with why otherwise.
    public static func parse(_ text: String) -> Result<MaintenanceWindow, WindowError> {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count == 4 || words.count == 3 else {
            return .failure(WindowError("'\(text)' is not a window such as \"Sat 22:00-Sun 04:00 Europe/Berlin\""))
        }
        let zoneName = String(words.last!)
        guard let zone = TimeZone(identifier: zoneName) else {
            return .failure(
                WindowError("'\(zoneName)' is not an IANA time zone (Europe/Berlin, America/New_York, UTC)"))
        }
        // "Sat 22:00-Sun 04:00" or "Sat 22:00 - Sun 04:00" split on the dash.
        let span = words.dropLast().joined(separator: " ").split(separator: "-").map {
            $0.split(separator: " ", omittingEmptySubsequences: true)
        }
        guard span.count == 2, span[0].count == 2, span[1].count == 2 || span[1].count == 1,
            let openDay = Weekday(name: span[0][0]), let open = minutes(of: span[0][1]),
            let close = minutes(of: span[1].last!)
        else {
            return .failure(WindowError("'\(text)' is not a window such as \"Sat 22:00-Sun 04:00 Europe/Berlin\""))
        }
        let closeDay = span[1].count == 2 ? Weekday(name: span[1][0]) : openDay
        guard let closeDay else { return .failure(WindowError("'\(span[1][0])' is not a day of the week")) }
        var days = (closeDay.number - openDay.number + 7) % 7
        // "Sat 23:00-01:00": without a day, it closes the next time the clock reads 01:00.
        if days == 0, close <= open { days = span[1].count == 2 ? 7 : 1 }
        let length = days * 1440 + close - open
        guard length > 0, length < 7 * 1440 else {
            return .failure(WindowError("'\(text)' does not close within a week of opening"))
        }
        return .success(MaintenanceWindow(days: [openDay], start: open, minutes: length, timeZone: zone))
    }

    /// "22:00" or "4:30" as minutes after midnight; "24:00" is midnight at the day's end.
    public static func minutes(of text: some StringProtocol) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), parts[1].count == 2,
            (0...24).contains(hour), (0...59).contains(minute), hour * 60 + minute <= 1440
        else { return nil }
        return hour * 60 + minute
    }

    /// The window as it is written: "sat 22:00 for 6 h Europe/Berlin".
    public var description: String {
        let time = String(format: "%02d:%02d", start / 60, start % 60)
        let length = minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes / 60) h \(minutes % 60) min"
        return "\(days.map(\.rawValue).joined(separator: ",")) \(time) for \(length) \(timeZone.identifier)"
    }
}

/// Why a window's text is not one.
public struct WindowError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

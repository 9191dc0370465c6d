import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Prints engine events: plain timestamped lines, or JSON lines; on a terminal, a progress
/// display under them (the whole run, and each running step against its usual duration).
final class ProgressPrinter: Sendable {
    let json: Bool
    let live: Bool
    let total: Int
    let speed: LabSpeed
    let run: RunID
    let stateDirectory: String
    /// When this process began driving the run: the display says how long it has been.
    let started = Date()
    /// Steps done, steps running, and how many lines the display took when last drawn.
    let progress = Mutex<(done: Int, running: [StepID: (step: Step, since: Date)], drawn: Int)>((0, [:], 0))
    /// The run's expected end (`ExpectedEnd`): what is done, how long the steps seen here took,
    /// the tenth of the run last announced, and the last estimate with when it was made.
    let clock: ExpectedEnd?
    let timing = Mutex<Timing>(Timing())

    struct Timing {
        var done = Set<StepID>()
        var actual: [StepID: Double] = [:]
        var announced = 0
        var estimate: (at: Date, remaining: Double?)?
    }

    init(
        json: Bool, total: Int, speed: LabSpeed, done: Set<StepID>, run: RunID, stateDirectory: String,
        clock: ExpectedEnd? = nil
    ) {
        self.run = run
        self.stateDirectory = stateDirectory
        self.json = json
        self.total = total
        self.speed = speed
        self.clock = clock
        live = !json && isatty(STDOUT_FILENO) != 0
        progress.withLock { $0.done = done.count }
        timing.withLock {
            $0.done = done
            $0.announced = total > 0 ? done.count * 10 / total : 0
        }
    }

    /// The steps running now, each with its host and how long it has run: what a stop waits for.
    func runningSteps() -> [String] {
        let now = Date()
        return progress.withLock { $0.running }.sorted { $0.key < $1.key }.map { id, entry in
            "\(id) \(entry.step.summary), for \(humanDuration(Int(now.timeIntervalSince(entry.since))))"
        }
    }

    /// Seconds left, estimated again at most once a second; nil until a step that takes time
    /// has finished here.
    func remaining() -> Double? {
        guard let clock else { return nil }
        let now = Date()
        let running = progress.withLock { $0.running.mapValues { now.timeIntervalSince($0.since) } }
        return timing.withLock { timing in
            if let estimate = timing.estimate, now.timeIntervalSince(estimate.at) < 1 {
                return estimate.remaining.map { max(0, $0 - now.timeIntervalSince(estimate.at)) }
            }
            let remaining = clock.pace(actual: timing.actual).map {
                clock.remaining(done: timing.done, running: running, pace: $0)
            }
            timing.estimate = (now, remaining)
            return remaining
        }
    }

    /// "3 min elapsed; expected end 04:12, about 1 h 20 min left", or the elapsed time alone.
    func timeText() -> String {
        let elapsed = humanDuration(Int(Date().timeIntervalSince(started))) + " elapsed"
        guard let remaining = remaining() else { return elapsed }
        let end = ISO8601DateFormatter.string(
            from: Date().addingTimeInterval(remaining), timeZone: .current,
            formatOptions: [.withTime, .withColonSeparatorInTime])
        return "\(elapsed); expected end \(end.prefix(5)), about \(humanDuration(Int(remaining.rounded(.up)))) left"
    }

    /// A step finished: its real duration counts toward the pace, and each tenth of the run is
    /// announced once (a line, or a JSON `progress` event).
    func finished(_ step: Step, since: Date?, succeeded: Bool) {
        let crossed = timing.withLock { timing -> Bool in
            guard succeeded else { return false }
            timing.done.insert(step.id)
            if let since { timing.actual[step.id] = Date().timeIntervalSince(since) }
            timing.estimate = nil
            let tenth = total > 0 ? timing.done.count * 10 / total : 0
            guard tenth > timing.announced else { return false }
            timing.announced = tenth
            return true
        }
        guard crossed, !live else { return }
        let done = timing.withLock { $0.done.count }
        let elapsed = Date().timeIntervalSince(started)
        if json {
            var object: [String: JSONValue] = [
                "event": .text("progress"), "done": .number(done), "total": .number(total),
                "elapsedSeconds": .decimal(elapsed),
                "at": .text(ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])),
            ]
            if let remaining = remaining() {
                object["remainingSeconds"] = .decimal(remaining)
                object["expectedEnd"] = .text(
                    ISO8601DateFormatter.string(
                        from: Date().addingTimeInterval(remaining), timeZone: .gmt,
                        formatOptions: [.withInternetDateTime, .withFractionalSeconds]))
            }
            return Terminal.out(JSONValue.line(object))
        }
        let time = ISO8601DateFormatter.string(
            from: Date(), timeZone: .current, formatOptions: [.withTime, .withColonSeparatorInTime])
        Terminal.out("\(time)  progress  \(done)/\(total) steps, \(timeText())\n")
    }

    func print(_ event: EngineEvent) {
        let time = ISO8601DateFormatter.string(
            from: Date(), timeZone: .current, formatOptions: [.withTime, .withColonSeparatorInTime])
        var fields: [String: String]
        switch event {
        case .started(let step, let attempt):
            progress.withLock { $0.running[step.id] = (step, Date()) }
            // A step tried again (a repeatable action that failed) is a retry, not a second start.
            fields = [
                "event": attempt > 1 ? "retrying" : "started", "step": step.id.rawValue, "summary": step.summary,
                "attempt": "\(attempt)",
            ]
        case .finished(let step, let state, let message, let rule):
            let since = progress.withLock {
                let since = $0.running.removeValue(forKey: step.id)?.since
                if state == .succeeded { $0.done += 1 }
                return since
            }
            defer { finished(step, since: since, succeeded: state == .succeeded) }
            fields = [
                "event": state.rawValue, "step": step.id.rawValue, "summary": step.summary, "message": message,
                "rule": rule?.rawValue ?? "",
            ]
        case .recovered(let step, let tookEffect):
            fields = [
                "event": "recovered", "step": step.id.rawValue, "summary": step.summary,
                "message": tookEffect ? "had taken effect" : "will be redone",
            ]
        case .retrying(let step):
            fields = [
                "event": "retrying", "step": step.id.rawValue, "summary": step.summary,
                "message": "failed before; tried again",
            ]
        case .waitingForApproval(let step, let gate):
            fields = ["event": "waiting", "step": step.id.rawValue, "gate": gate, "summary": step.summary]
        case .waitingForWindow(let until, let why):
            let at = ISO8601DateFormatter.string(
                from: until, timeZone: .gmt, formatOptions: [.withInternetDateTime])
            if json {
                return Terminal.out(
                    JSONValue.line(["event": .text("waiting-for-window"), "until": .text(at), "message": .text(why)]))
            }
            let line = "\(time)  waiting for a maintenance window until \(at): \(why)"
            return live ? Terminal.out("\r\u{1B}[2K" + line + "\n" + display()) : Terminal.out(line + "\n")
        }
        if json {
            // Numbers as numbers: an attempt is counted.
            var object = fields.mapValues(JSONValue.text)
            if let attempt = fields["attempt"].flatMap({ Int($0) }) { object["attempt"] = .number(attempt) }
            Terminal.out(JSONValue.line(object))
            return
        }
        var line = "\(time)  \(fields["step"]!.padded(6)) \(fields["event"]!.padded(9)) \(fields["summary"]!)"
        if let message = fields["message"], !message.isEmpty { line += ": \(message)" }
        if let gate = fields["gate"] {
            line =
                "\(time)  \(fields["step"]!.padded(6)) waiting   gate \(gate): approve it with 'baton approve \(run) \(gate) --state \(stateDirectory)'"
        }
        if case .finished(_, .failed, _, let rule?) = event, let known = Rule.named(rule) {
            line += "\n        rule \(known.id): \(known.text)"
        }
        guard live else { return Terminal.out(line + "\n") }
        // Clear the previous display, print the line, draw the display again below it.
        let previous = progress.withLock { state in
            let drawn = state.drawn
            state.drawn = 1 + state.running.count
            return drawn
        }
        Terminal.out(
            String(repeating: "\u{1B}[2K\u{1B}[1A", count: max(0, previous - 1)) + "\r\u{1B}[2K" + line + "\n"
                + display())
    }

    /// "[##########----------] 34/74" and a line per running step.
    func display() -> String {
        let (done, running) = progress.withLock { ($0.done, $0.running) }
        var text =
            "\u{1B}[2K" + Self.bar(Double(done) / Double(max(total, 1)), width: 30) + " \(done)/\(total) steps, "
            + timeText()
        for (_, entry) in running.sorted(by: { $0.key < $1.key }) {
            let usual = Double(
                ActionDurations.defaults[entry.step.action.rawValue] ?? ActionDurations.defaults[
                    "install-service-pack"]!)
            let expected: Double =
                switch speed {
                case .instant: 1
                case .factor(let factor): max(usual / factor, 0.1)
                }
            let fraction = min(1, Date().timeIntervalSince(entry.since) / expected)
            text += "\n\u{1B}[2K  " + Self.bar(fraction, width: 12) + " \(entry.step.id) \(entry.step.summary)"
        }
        return text + "\r"
    }

    static func bar(_ fraction: Double, width: Int) -> String {
        let filled = Int((fraction * Double(width)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: max(0, width - filled)) + "]"
    }

    /// Leaves the display's last state on screen and ends its line.
    func close() {
        if live { Terminal.out("\n") }
    }
}

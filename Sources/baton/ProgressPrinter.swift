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

    init(json: Bool, total: Int, speed: LabSpeed, done: Int, run: RunID, stateDirectory: String) {
        self.run = run
        self.stateDirectory = stateDirectory
        self.json = json
        self.total = total
        self.speed = speed
        live = !json && isatty(STDOUT_FILENO) != 0
        progress.withLock { $0.done = done }
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
            progress.withLock {
                $0.running[step.id] = nil
                if state == .succeeded { $0.done += 1 }
            }
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
        let elapsed = humanDuration(Int(Date().timeIntervalSince(started)))
        var text =
            "\u{1B}[2K" + Self.bar(Double(done) / Double(max(total, 1)), width: 30) + " \(done)/\(total) steps, "
            + "\(elapsed) elapsed"
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

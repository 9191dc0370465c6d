import BatonModel
import Foundation

/// One message about a run, as every receiver is told it (`docs/notifications.md`): the
/// generic webhook's JSON body, and what the Teams card, the Slack message and the email say.
public struct RunNotification: Sendable, Hashable, Codable {
    /// Unique per event: the run and the journal's sequence of the transition it tells of
    /// (`run-3/17`). A receiver that is sent one twice (the controller stopped between sending
    /// and recording it) knows it by this.
    public var id: String
    public var event: NotificationKind
    public var run: String
    public var organization: String
    /// The journal's sequence of the transition, for ordering.
    public var sequence: Int64
    /// When it happened, ISO 8601 in UTC.
    public var at: String
    public var step: String?
    public var host: String?
    public var action: String?
    /// The step's or the run's state the transition recorded.
    public var state: String
    public var message: String
    /// The rule behind a failure, when the step named one.
    public var rule: String?
    /// The run on the dashboard, when the inventory names it (`dashboard:`).
    public var link: String?
    /// What the run leaves out of service now: for a halt or an interruption.
    public var outOfService: [String]
    /// The command that continues the run, when it stopped.
    public var resume: String?
    /// One line for a person: a subject, a card's title.
    public var title: String

    public init(
        id: String, event: NotificationKind, run: String, organization: String, sequence: Int64, at: Date,
        step: String? = nil, host: String? = nil, action: String? = nil, state: String, message: String,
        rule: String? = nil, link: String? = nil, outOfService: [String] = [], resume: String? = nil
    ) {
        self.id = id
        self.event = event
        self.run = run
        self.organization = organization
        self.sequence = sequence
        self.at = Self.instant(at)
        self.step = step
        self.host = host
        self.action = action
        self.state = state
        self.message = message
        self.rule = rule
        self.link = link
        self.outOfService = outOfService
        self.resume = resume
        self.title = Self.title(event: event, run: run, organization: organization, step: step, host: host)
    }

    static func instant(_ date: Date) -> String {
        var style = Date.ISO8601FormatStyle()
        style.timeZone = TimeZone(identifier: "UTC")!
        return date.formatted(style)
    }

    static func title(event: NotificationKind, run: String, organization: String, step: String?, host: String?)
        -> String
    {
        let on = host.map { " on \($0)" } ?? ""
        let what =
            switch event {
            case .gateWaiting: "a gate waits for approval"
            case .stepFailed: "step \(step ?? "?") failed\(on)"
            case .runHalted: "halted"
            case .runInterrupted: "interrupted: its controller stopped"
            case .waitingForWindow: "waiting for its maintenance window"
            case .runCompleted: "completed"
            case .runAborted: "aborted"
            case .test: "a test message from Baton"
            }
        return "Baton \(run) (\(organization)): \(what)"
    }

    /// The lines a person reads: the message, the step, what is out of service, how to go on.
    public var lines: [String] {
        var lines = [title]
        if !message.isEmpty { lines.append(message) }
        if let step {
            lines.append("Step \(step)\(action.map { " (\($0))" } ?? "")\(host.map { " on \($0)" } ?? ""): \(state)")
        }
        if let rule { lines.append("Rule: \(rule)") }
        if !outOfService.isEmpty {
            lines.append("Out of service now:")
            lines.append(contentsOf: outOfService.map { "  - \($0)" })
        }
        if let resume { lines.append("To continue: \(resume)") }
        if let link { lines.append(link) }
        lines.append("At \(at) (event \(id))")
        return lines
    }

    /// The generic webhook's body: this value as JSON, keys sorted.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}

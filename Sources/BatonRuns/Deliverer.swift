import BatonEngine
import BatonModel
import BatonNotify
import BatonPlan
import Foundation

/// Sends what each run's receivers are owed, from the journal: the transitions after the last
/// one each receiver was handled for, those worth a message (`Deliverer.notification`) sent in
/// order, one at a time, the receiver's place recorded after each. A receiver that fails is
/// tried again later (1 s, 2 s, 4 s… up to `maxBackoff`) while the others go on; nothing here
/// waits in a run's way, since the engine never waits for it. What a stopped controller had
/// not sent, the next one sends: the ledger holds the place, and whichever process takes the
/// receiver next (the resumed run, `baton serve`, a standby) goes on from it.
public struct Deliverer: Sendable {
    public let service: RunService
    public var senders: Senders
    /// How long a pass holds the receivers it takes.
    public var hold: Double
    public var maxBackoff: Double

    public init(service: RunService, senders: Senders = Senders(), hold: Double = 60, maxBackoff: Double = 60) {
        self.service = service
        self.senders = senders
        self.hold = hold
        self.maxBackoff = maxBackoff
    }

    /// One pass: takes every receiver with something owed (of `run` alone, when given) and
    /// sends what is due; the journal keeps where each got to and why it failed.
    public func pass(run: RunID? = nil) async {
        let journal = service.journal
        guard
            let taken = try? await journal.takeDeliveries(
                holder: service.owner, until: Date().timeIntervalSince1970 + hold, run: run)
        else { return }
        var contexts: [RunID: RunContext] = [:]
        for record in taken where record.nextTry <= Date().timeIntervalSince1970 {
            if contexts[record.run] == nil {
                contexts[record.run] = await RunContext(service: service, run: record.run)
            }
            await deliver(record, context: contexts[record.run]!)
        }
    }

    /// Passes every `every` until cancelled or `stop` says so.
    public func follow(
        run: RunID? = nil, every: Duration = .seconds(1), stop: @Sendable () -> Bool = { false }
    ) async {
        while !Task.isCancelled, !stop() {
            await pass(run: run)
            try? await Task.sleep(for: every)
        }
    }

    /// Passes until nothing of `run` is owed or `within` is over; returns what is still owed.
    public func flush(run: RunID, within: Duration) async -> [DeliveryRecord] {
        let deadline = ContinuousClock.now + within
        while true {
            await pass(run: run)
            // The journal's records carry each receiver's last error.
            let owed = (try? await service.journal.deliveries(of: run).filter(\.pending)) ?? []
            if owed.isEmpty || ContinuousClock.now >= deadline { return owed }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    func deliver(_ record: DeliveryRecord, context: RunContext) async {
        let journal = service.journal
        guard let receiver = try? JSONDecoder().decode(Receiver.self, from: Data(record.settings.utf8)),
            let transitions = try? await journal.transitions(after: record.delivered, run: record.run)
        else { return }
        var handled = record.delivered
        for transition in transitions {
            guard let notification = await context.notification(transition), receiver.hears(notification.event) else {
                handled = transition.sequence
                continue
            }
            do {
                try await senders.send(notification, to: receiver)
            } catch {
                if handled > record.delivered {
                    try? await journal.delivered(run: record.run, receiver: record.receiver, through: handled)
                }
                let attempts = record.attempts + 1
                let wait = min(maxBackoff, pow(2, Double(min(attempts - 1, 30))))
                try? await journal.deliveryFailed(
                    run: record.run, receiver: record.receiver, attempts: attempts,
                    nextTry: Date().timeIntervalSince1970 + wait, error: "\(error)")
                return
            }
            handled = transition.sequence
            try? await journal.delivered(run: record.run, receiver: record.receiver, through: handled)
        }
        if handled > record.delivered || record.attempts > 0 {
            try? await journal.delivered(run: record.run, receiver: record.receiver, through: handled)
        }
    }
}

/// What the messages of one run need: its organization, its steps' servers and actions, its
/// dashboard link; read once per pass.
struct RunContext {
    let service: RunService
    let run: RunID
    let organization: String
    let steps: [StepID: Step]
    let link: String?

    init(service: RunService, run: RunID) async {
        self.service = service
        self.run = run
        let record = try? await service.journal.run(run)
        organization = record?.organization ?? ""
        let plan = try? await service.journal.plan(of: run)
        steps = Dictionary((plan?.steps ?? []).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var dashboard: String?
        if let record { dashboard = (try? await service.inventory(of: record))?.dashboard }
        link = dashboard.map { base in (base.hasSuffix("/") ? base : base + "/") + "#" + run.rawValue }
    }

    /// The message a transition is worth, or nil.
    func notification(_ transition: Transition) async -> RunNotification? {
        guard let event = Self.event(transition) else { return nil }
        let step = transition.step.flatMap { steps[$0] }
        var outOfService: [String] = []
        var resume: String?
        var message = transition.message
        if event == .runHalted || event == .runInterrupted {
            outOfService = (try? await service.outOfService(run)) ?? []
            if event == .runHalted { resume = "baton resume \(run)" }
        }
        if event == .runHalted, message.isEmpty {
            // Halted because a step failed: say which.
            let failed = ((try? await service.journal.steps(of: run)) ?? []).filter { $0.state == .failed }
            if !failed.isEmpty {
                message =
                    "It stopped after "
                    + failed.map { record in
                        "step \(record.id) (\(record.action)\(steps[record.id]?.host.map { " on \($0)" } ?? "")) failed"
                    }.joined(separator: "; ")
            }
        }
        return RunNotification(
            id: "\(run)/\(transition.sequence)", event: event, run: run.rawValue, organization: organization,
            sequence: transition.sequence, at: Date(timeIntervalSince1970: transition.at),
            step: transition.step?.rawValue, host: step?.host?.spelling, action: step?.action.rawValue,
            state: transition.state, message: message, rule: transition.rule?.rawValue, link: link,
            outOfService: outOfService, resume: resume)
    }

    /// Which event a transition is, if any: a step's failure, the run's end or halt, and the
    /// notes the engine and the run service journal (`RunNote`).
    static func event(_ transition: Transition) -> NotificationKind? {
        if transition.step != nil { return transition.state == StepState.failed.rawValue ? .stepFailed : nil }
        switch transition.state {
        case RunState.halted.rawValue: return .runHalted
        case RunState.completed.rawValue: return .runCompleted
        case RunState.aborted.rawValue: return .runAborted
        case RunState.running.rawValue:
            if transition.message.hasPrefix(RunNote.waitingForWindow) { return .waitingForWindow }
            if transition.message.hasPrefix(RunNote.waitingForApproval) { return .gateWaiting }
            if transition.message.hasPrefix(RunNote.interrupted) { return .runInterrupted }
            return nil
        default: return nil
        }
    }
}

extension RunService {
    /// Adds receivers to a run (`notify:`, `--notify`): each hears of what happens from now on.
    public func notify(_ run: RunID, _ receivers: [Receiver]) async throws(RunServiceError) {
        guard !receivers.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let rows = receivers.map { receiver in
            (name: receiver.name, settings: String(decoding: (try? encoder.encode(receiver)) ?? Data(), as: UTF8.self))
        }
        try await wrap { try await journal.addReceivers(run: run, rows) }
    }

    /// The test message `baton notify test` sends each receiver.
    public static func testNotification(organization: String, dashboard: String?) -> RunNotification {
        RunNotification(
            id: "test/\(UUID().uuidString.lowercased())", event: .test, run: "test", organization: organization,
            sequence: 0, at: Date(), state: "test",
            message: "Baton can reach this receiver. Runs of \(organization) will report here.",
            link: dashboard)
    }
}

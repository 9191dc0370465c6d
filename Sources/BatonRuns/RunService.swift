import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlanner
import BatonRemote
import BatonStore
import Foundation
import Synchronization

/// Starting, resuming, driving, approving, aborting and reporting runs: one place for the
/// command line and the server alike. Whoever drives a run holds its lease in the journal
/// (owner, epoch, heartbeat); every write it makes is fenced by that lease, and the machines
/// it acts on (the lab twin, real hosts) are claimed for as long as it lives.
public struct RunService: Sendable {
    public let journal: any Journal
    public let store: LabStore
    public let stateDirectory: String
    public let owner: LeaseOwner
    /// Seconds without a heartbeat after which another controller may take a run over.
    public let leaseExpiry: Double

    public static let defaultLeaseExpiry = 15.0
    /// How promptly this process renewed its leases.
    public let heartbeats = HeartbeatLog()

    public init(
        journal: any Journal, stateDirectory: String, owner: LeaseOwner = .current,
        leaseExpiry: Double = RunService.defaultLeaseExpiry
    ) {
        self.journal = journal
        self.stateDirectory = stateDirectory
        self.store = LabStore(directory: stateDirectory, journal: journal)
        self.owner = owner
        self.leaseExpiry = leaseExpiry
    }

    /// The operating-system user of this process, for the audit trail.
    public static var systemUser: String {
        if let name = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] {
            return name
        }
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "uid \(getuid())" }
        return String(cString: name)
    }

    // MARK: Starting and resuming

    /// Where a new run's inventory came from: a file (read again on resume, so a fix there
    /// counts) or text given inline (kept in the journal).
    public enum InventorySource: Sendable {
        case file(String)
        case inline(String)
    }

    /// What a new run is.
    public struct NewRun: Sendable {
        public var inventory: Inventory
        public var package: Package
        public var plan: Plan
        public var id: RunID?
        public var target: RunTarget
        /// The lab twin a lab run acts on.
        public var twin: TwinName
        public var freshLab: Bool
        public var faults: [LabFault]
        public var releaseNotes: String?
        /// The inventory's text when it was given inline (the API), kept for a resume.
        public var inlineInventory: String?
        /// Who starts it (the audit trail).
        public var by: String
        /// The passwords of its hosts' logons, when they were read for its preflight: a run
        /// reads them once.
        public var secrets: LogonSecrets?

        public init(
            inventory: Inventory, package: Package, plan: Plan, id: RunID? = nil, target: RunTarget,
            twin: TwinName = .standard, freshLab: Bool = false, faults: [LabFault] = [], releaseNotes: String? = nil,
            inlineInventory: String? = nil, by: String, secrets: LogonSecrets? = nil
        ) {
            self.secrets = secrets
            self.inlineInventory = inlineInventory
            self.inventory = inventory
            self.package = package
            self.plan = plan
            self.id = id
            self.target = target
            self.twin = twin
            self.freshLab = freshLab
            self.faults = faults
            self.releaseNotes = releaseNotes
            self.by = by
        }
    }

    /// A run this process owns now: drive it with `drive`, or let it go with `release`.
    public struct OwnedRun: Sendable {
        public let id: RunID
        public let target: RunTarget
        /// The lab twin a lab run acts on.
        public let twin: TwinName
        public let lease: Lease
        /// The journal, fenced by the lease.
        public let journal: any Journal
        /// The passwords of its hosts' logons, when the run was started with them read.
        public var secrets: LogonSecrets? = nil
    }

    /// Records a new run, owned by this process, with the machines it acts on claimed. On the
    /// lab twin, the twin is the state directory's own (or a new one from the inventory), with
    /// `faults` armed. Refused (nothing recorded) when another live run holds those machines.
    public func start(_ new: NewRun) async throws(RunServiceError) -> OwnedRun {
        if let id = new.id, !Self.isRunName(id.rawValue) { throw .badName(id.rawValue) }
        if let id = new.id, try await wrap({ try await journal.run(id) }) != nil { throw .exists(id) }
        if new.target == .hosts {
            do { try RemoteTarget.validate(new.inventory, new.plan) } catch {
                throw .badInventory(file: new.inventory.file, problems: error.problems)
            }
        }
        let record = RunRecord(
            id: new.id ?? "", organization: new.inventory.organization, package: new.package.id,
            inventory: new.inventory.file, state: .running, created: Date().timeIntervalSince1970,
            twin: new.target == .lab && new.twin != .standard ? new.twin : nil)
        let store = store.named(new.twin)
        let claims = claims(new.target, inventory: new.inventory, plan: new.plan, twin: new.twin)
        let create = { @Sendable (record: RunRecord) async throws -> Lease in
            try await journal.createOwnedRun(
                record, id: new.id, plan: new.plan, owner: owner, expiry: leaseExpiry, claims: claims,
                target: new.target, inventoryText: new.inlineInventory)
        }
        let lease: Lease
        do {
            if new.target == .lab {
                // Under the twin's lock: no live run holds the twin; the twin this run starts
                // from is saved; then the run is recorded with its lease and claims. A
                // controller killed in between leaves a saved twin and no run, never a run
                // without its twin, and no other run's twin is replaced.
                lease = try await store.exclusively { access in
                    if let holder = try await journal.liveClaim(store.claim.resource) {
                        throw OwnershipError.targetBusy(
                            what: store.place, run: holder.run, lease: holder)
                    }
                    let twin = try prepareTwin(new, current: try await access.load(), store: store)
                    try await access.save(twin)
                    var record = record
                    record.before = twin.builds
                    return try await create(record)
                }
            } else {
                lease = try await create(record)
            }
        } catch let error as RunExists {
            throw .exists(error.run)
        } catch {
            throw RunServiceError(error)
        }
        let run = OwnedRun(
            id: lease.run, target: new.target, twin: new.twin, lease: lease, journal: journal.fenced(by: lease),
            secrets: new.secrets)
        do {
            if let releaseNotes = new.releaseNotes {
                try await journal.setReleaseNotes(run: run.id, link: releaseNotes)
            }
            try await journal.audit(run: run.id, action: "started", by: new.by)
        } catch {
            try? await journal.setState(run: run.id, .halted, reason: "could not be started: \(error)")
            await release(run)
            throw RunServiceError(error)
        }
        return run
    }

    /// The twin a new run starts from: `current` (the state directory's) unless there is none
    /// or the run asks for a fresh one, with the run's faults armed. Refused when it is a twin
    /// of another inventory.
    func prepareTwin(_ new: NewRun, current: LabTwin?, store: LabStore) throws(RunServiceError) -> LabTwin {
        do throws(LabError) {
            var twin = current.flatMap { new.freshLab ? nil : $0 } ?? LabTwin(inventory: new.inventory)
            if let refusal = twin.refusal(for: new.inventory, in: store) { throw LabError.otherInventory(refusal) }
            for fault in new.faults { try twin.inject(fault) }
            return twin
        } catch {
            throw .lab(error)
        }
    }

    /// The passwords of the logons of the hosts `plan` acts on, read once for a run
    /// (`.logons` when one cannot be read: every problem, located).
    public func secrets(for inventory: Inventory, plan: Plan) async throws(RunServiceError) -> LogonSecrets {
        do {
            return try await LogonSecrets.read(for: inventory, hosts: RemoteTarget.hosts(of: plan, in: inventory))
        } catch {
            throw .logons(problems: error.problems)
        }
    }

    /// Before a run on real hosts: every gap in the configuration (`.badInventory`), then the
    /// same checks as `baton check` against the hosts (`.preflightFailed`, every failure).
    public func preflight(_ inventory: Inventory, _ plan: Plan, secrets: LogonSecrets) async throws(RunServiceError)
    {
        do { try RemoteTarget.validate(inventory, plan) } catch {
            throw .badInventory(file: inventory.file, problems: error.problems)
        }
        let failed: [CheckResult]
        do {
            failed = try await RemoteTarget.withRunner(
                for: inventory, stateDirectory: stateDirectory, secrets: secrets
            ) { runner in
                await RemotePreflight(inventory: inventory, plan: plan, runner: runner).run().filter {
                    $0.status == .fail
                }
            }
        } catch {
            throw RunServiceError(error)
        }
        guard failed.isEmpty else {
            throw .preflightFailed(problems: failed.map { "\($0.check) \($0.subject): \($0.detail)" })
        }
    }

    /// Takes a halted or interrupted run to drive it on. Refused when it is finished, or when
    /// another live process drives it or holds its machines.
    public func resume(_ id: RunID, by: String) async throws(RunServiceError) -> OwnedRun {
        try await take(id, by: by, action: "resumed")
    }

    /// Takes the lease of an unfinished run and claims its machines, recording `action` by
    /// `by` in the audit trail; `prepare`, run holding the lease, may change the run first.
    func take(
        _ id: RunID, by: String, action: String, prepare: (OwnedRun) async throws -> Void = { _ in }
    ) async throws(RunServiceError) -> OwnedRun {
        let record = try await existing(id)
        guard !record.state.isFinished else { throw .finished(id, record.state) }
        let target = try await self.target(of: id)
        let inventory = target == .hosts ? try await inventory(of: record) : nil
        let twin = record.twin ?? .standard
        let lease: Lease
        do {
            lease = try await journal.acquire(
                run: id, owner: owner, expiry: leaseExpiry,
                // A lab run claims its twin; only a run on real hosts needs its plan's machines.
                claims: claims(
                    target, inventory: inventory, plan: target == .hosts ? try await journal.plan(of: id) : nil,
                    twin: twin))
        } catch {
            throw RunServiceError(error)
        }
        let run = OwnedRun(id: id, target: target, twin: twin, lease: lease, journal: journal.fenced(by: lease))
        do {
            try await prepare(run)
            try await journal.audit(run: id, action: action, by: by)
        } catch {
            await release(run)
            throw RunServiceError(error)
        }
        return run
    }

    /// Waits until `attempt` is not refused for machines held by another live run, trying
    /// every second; other refusals are thrown at once.
    public func waiting<T>(
        _ attempt: () async throws(RunServiceError) -> T, onWait: (OwnershipError) -> Void = { _ in }
    ) async throws(RunServiceError) -> T {
        var told = false
        while true {
            do {
                return try await attempt()
            } catch .owned(let reason) {
                guard case .targetBusy = reason else { throw .owned(reason) }
                if !told { onWait(reason) }
                told = true
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Gives a run up without driving it.
    public func release(_ run: OwnedRun) async {
        try? await journal.release(run.lease)
    }

    // MARK: Driving

    /// How a run ended for its driver.
    public struct Outcome: Sendable {
        public var state: RunState
        /// The twin after the run, for a lab run.
        public var twin: LabTwin?
    }

    /// Drives an owned run to its end or a halt, renewing the lease meanwhile. With
    /// `approveAll`, every gate not yet approved is recorded approved (`--yes`) by `by`
    /// first. Throws `.owned(.leaseLost)` when another controller took the run over: this
    /// process then applied nothing more.
    public func drive(
        _ run: OwnedRun, speed: LabSpeed, options: EngineOptions, approvedBy by: String,
        onEvent: @escaping @Sendable (EngineEvent) -> Void = { _ in }
    ) async throws(RunServiceError) -> Outcome {
        let lost = LostLease()
        do {
            if options.approveAll { try await approveEveryGate(run, by: by, how: .yes) }
            let fenced = run.journal
            var engineOptions = options
            let external = options.stopRequested
            engineOptions.stopRequested = {
                lost.value != nil ? "this controller lost the run" : external()
            }
            engineOptions.confirmOwnership = { try await fenced.confirmLease() }
            // The engine, with the lease renewed beside it for as long as `work` runs.
            @Sendable func heartbeating(_ work: @escaping @Sendable () async throws -> RunState) async throws -> RunState {
                try await withThrowingTaskGroup(of: RunState?.self) { group in
                    group.addTask {
                        await heartbeat(run.lease, lost: lost)
                        return nil
                    }
                    group.addTask { try await work() }
                    var final: RunState?
                    while let result = try await group.next() {
                        if let result {
                            final = result
                            group.cancelAll()
                        }
                    }
                    return final ?? .halted
                }
            }
            var lab: LabTarget?
            let final: RunState
            switch run.target {
            case .lab:
                let store = store.named(run.twin)
                let loaded = try await store.load()
                let twin = LabTarget(twin: loaded, store: store, speed: speed, fence: fenced.confirmLease)
                lab = twin
                let engine = Engine(journal: fenced, target: twin, options: engineOptions, onEvent: onEvent)
                let plan = try await journal.plan(of: run.id)
                final = try await heartbeating {
                    // The twin's sessions prove themselves as real ones do (fault key-logon).
                    try await Self.halt(run, unlessProven: plan.map { Preflight.network(loaded, $0) } ?? [])
                    return try await engine.execute(run: run.id)
                }
            case .hosts:
                guard let record = try await journal.run(run.id), let plan = try await journal.plan(of: run.id) else {
                    throw RunServiceError.notFound(run.id)
                }
                let inventory = try await inventory(of: record)
                var secrets = run.secrets
                if secrets == nil { secrets = try await self.secrets(for: inventory, plan: plan) }
                do { try RemoteTarget.validate(inventory, plan) } catch {
                    throw RunServiceError.badInventory(file: record.inventory, problems: error.problems)
                }
                final = try await RemoteTarget.withRunner(
                    for: inventory, stateDirectory: stateDirectory, secrets: secrets ?? .none
                ) { runner in
                    let target = try RemoteTarget(
                        inventory: inventory, plan: plan, stateDirectory: stateDirectory, runner: runner)
                    let engine = Engine(journal: fenced, target: target, options: engineOptions, onEvent: onEvent)
                    return try await heartbeating {
                        // Before anything changes, every session proves it reaches the network
                        // (rule windows-network-logon); a host that cannot halts the run here.
                        // The hosts with steps still to do: a resumed run does not wait on a
                        // host it has finished with.
                        let done = Set(try await fenced.steps(of: run.id).filter { $0.state == .succeeded }.map(\.id))
                        var remaining = plan
                        remaining.steps = plan.steps.filter { !done.contains($0.id) }
                        try await Self.halt(
                            run,
                            unlessProven: await RemotePreflight(inventory: inventory, plan: remaining, runner: runner)
                                .proveNetwork())
                        return try await engine.execute(run: run.id)
                    }
                }
            }
            if let reason = lost.value { throw reason }
            try await journal.release(run.lease)
            return Outcome(state: final, twin: await lab?.snapshot)
        } catch {
            // A lost lease is not this process's to give up; anything else gives the run up.
            let failure = lost.value.map(RunServiceError.owned) ?? RunServiceError(error)
            if case .owned(.leaseLost) = failure { throw failure }
            await release(run)
            throw failure
        }
    }

    /// Before a run's first step (and its resumption): when a host's session cannot reach the
    /// network, the run halts with nothing done (`.preflightFailed`, every host).
    static func halt(_ run: OwnedRun, unlessProven unproven: [CheckResult]) async throws {
        guard !unproven.isEmpty else { return }
        let problems = unproven.map { "\($0.check) \($0.subject): \($0.detail)" }
        try await run.journal.setState(
            run: run.id, .halted, reason: "nothing was run: " + problems.joined(separator: "; "))
        throw RunServiceError.preflightFailed(problems: problems)
    }

    /// Set once the heartbeat finds the lease taken over.
    final class LostLease: Sendable {
        let reason = Mutex<OwnershipError?>(nil)
        var value: OwnershipError? { reason.withLock { $0 } }
        func set(_ error: OwnershipError) { reason.withLock { $0 = error } }
    }

    /// Renews the lease every third of its expiry until cancelled or lost.
    func heartbeat(_ lease: Lease, lost: LostLease) async {
        var lease = lease
        let interval = Duration.milliseconds(Int64(lease.expiry * 1000 / 3))
        let clock = ContinuousClock()
        var due = clock.now + interval
        while !Task.isCancelled {
            try? await Task.sleep(until: due)
            guard !Task.isCancelled else { return }
            do {
                lease = try await journal.renew(lease)
                let delay = clock.now - due
                heartbeats.renewed(
                    lease.run, delay: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18,
                    allowed: lease.expiry / 3)
                due = clock.now + interval
            } catch let error as OwnershipError {
                lost.set(error)
                return
            } catch {
                // A busy or unreadable journal: try again next time; the lease may expire.
                due = clock.now + interval
            }
        }
    }

    func approveEveryGate(_ run: OwnedRun, by: String, how: ApprovalMethod) async throws {
        guard let plan = try await journal.plan(of: run.id) else { return }
        let approved = Set(try await journal.approvals(of: run.id))
        for gate in Set(plan.steps.compactMap(\.gate)).sorted() where !approved.contains(gate) {
            try await journal.approve(
                run: run.id,
                ApprovalRecord(gate: gate, by: by, how: how, user: Self.systemUser, at: Date().timeIntervalSince1970))
        }
    }

    // MARK: Approving and aborting

    /// Records an approval of `gate`. Refused for a finished run, an unknown gate, or a gate
    /// approved already (the first approver stays).
    @discardableResult
    public func approve(_ id: RunID, gate: String, by: String, how: ApprovalMethod) async throws(RunServiceError)
        -> ApprovalRecord
    {
        let record = try await existing(id)
        guard !record.state.isFinished else { throw .finished(id, record.state) }
        let gates = try await wrap { try await journal.plan(of: id)?.steps.compactMap(\.gate) ?? [] }
        guard gates.contains(gate) else { throw .noGate(run: id, gate: gate, gates: gates) }
        let approval = ApprovalRecord(
            gate: gate, by: by, how: how, user: Self.systemUser, at: Date().timeIntervalSince1970)
        do {
            try await journal.approve(run: id, approval)
        } catch {
            throw RunServiceError(error)
        }
        return approval
    }

    /// What `abort` did.
    public enum AbortOutcome: Sendable {
        /// The run's live owner stops scheduling and brings any virtual server caught offline back.
        case requested(owner: Lease)
        /// Nobody drove the run: this process brought its virtual servers back online, if any
        /// were offline, and recorded it aborted.
        case aborted
    }

    /// Aborts a run: no new step starts. A live owner sees it and finishes; a run nobody
    /// drives is taken by this process just long enough to bring every virtual server caught
    /// offline back online. Refused for a finished run.
    public func abort(_ id: RunID, by: String, speed: LabSpeed = .instant) async throws(RunServiceError)
        -> AbortOutcome
    {
        let record = try await existing(id)
        guard !record.state.isFinished else { throw .finished(id, record.state) }
        let now = Date().timeIntervalSince1970
        if let lease = try await wrap({ try await journal.lease(of: id) }), lease.isLive(at: now) {
            let previous = try await wrap { try await journal.requestAbort(run: id) }
            if let previous, previous.isFinished { throw .finished(id, previous) }
            try await wrap { try await journal.audit(run: id, action: "aborted", by: by) }
            return .requested(owner: lease)
        }
        let run = try await take(id, by: by, action: "aborted") { run in
            try await run.journal.setState(run: id, .aborted, reason: "aborted by \(by)")
        }
        _ = try await drive(run, speed: speed, options: EngineOptions(parallel: 4), approvedBy: by)
        return .aborted
    }

    // MARK: Reading

    /// A run with the state a person should see: `interrupted` for one the journal says is
    /// running whose owner is gone.
    public struct Status: Sendable {
        public var record: RunRecord
        /// The owner's lease as last written, live or not.
        public var lease: Lease?
        public var target: RunTarget

        public var state: RunState { record.state }
    }

    public func status(_ id: RunID) async throws(RunServiceError) -> Status {
        var record = try await existing(id)
        let lease = try await wrap { try await journal.lease(of: id) }
        record.state = Self.effectiveState(record.state, lease: lease)
        return Status(record: record, lease: lease, target: try await target(of: id))
    }

    public func statuses() async throws(RunServiceError) -> [Status] {
        try await wrap {
            var statuses: [Status] = []
            for var record in try await journal.runs() {
                let lease = try await journal.lease(of: record.id)
                record.state = Self.effectiveState(record.state, lease: lease)
                let target = try await journal.target(of: record.id)
                statuses.append(Status(record: record, lease: lease, target: target))
            }
            return statuses
        }
    }

    static func effectiveState(_ stored: RunState, lease: Lease?) -> RunState {
        guard stored == .running else { return stored }
        return lease?.isLive(at: Date().timeIntervalSince1970) == true ? .running : .interrupted
    }

    /// The run's report, from the journal and (on the lab twin) the twin now.
    public func report(_ id: RunID) async throws(RunServiceError) -> RunReport {
        let status = try await status(id)
        do {
            guard let plan = try await journal.plan(of: id) else { throw RunServiceError.notFound(id) }
            return RunReport(
                record: status.record, plan: plan, steps: try await journal.steps(of: id),
                approvals: try await journal.approvalRecords(of: id),
                audit: try await journal.auditRecords(of: id).map { ($0.action, $0.by, $0.at) },
                twin: status.target == .hosts ? nil : try await store.named(status.record.twin ?? .standard).load())
        } catch let error as RunServiceError {
            throw error
        } catch {
            throw RunServiceError(error)
        }
    }

    // MARK: Helpers

    /// A run's name: 1 to 64 letters, digits, `.`, `_` or `-` (it appears in commands, paths
    /// and addresses).
    public static func isRunName(_ name: String) -> Bool { RunID.isValidName(name) }

    func existing(_ id: RunID) async throws(RunServiceError) -> RunRecord {
        guard let record = try await wrap({ try await journal.run(id) }) else { throw .notFound(id) }
        return record
    }

    func target(of id: RunID) async throws(RunServiceError) -> RunTarget {
        try await wrap { try await journal.target(of: id) }
    }

    /// The run's inventory: its file read again (a fix made there counts), or the text the
    /// run was started with.
    func inventory(of record: RunRecord) async throws(RunServiceError) -> Inventory {
        let reserved = PackageCatalogue.builtInIDs
        do {
            if let text = try await journal.inventoryText(of: record.id) {
                return try InventoryLoader.parse(text: text, file: record.inventory, reservedPackageIDs: reserved)
            }
            return try InventoryLoader.load(path: record.inventory, reservedPackageIDs: reserved)
        } catch let errors as InventoryErrors {
            throw .badInventory(file: record.inventory, problems: errors.errors.map(\.description))
        } catch {
            throw RunServiceError(error)
        }
    }

    /// The machines a run acts on: the twin, or each real host of the plan.
    func claims(_ target: RunTarget, inventory: Inventory?, plan: Plan?, twin: TwinName) -> [Claim] {
        switch target {
        case .lab:
            return [store.named(twin).claim]
        case .hosts:
            var names = Set<HostName>()
            for step in plan?.steps ?? [] {
                if let host = step.host { names.insert(host) }
            }
            return names.sorted { $0.spelling < $1.spelling }.map {
                Claim(resource: "host:\($0.key)", label: "host \($0)")
            }
        }
    }

    func wrap<T>(_ body: () async throws -> T) async throws(RunServiceError) -> T {
        do { return try await body() } catch { throw RunServiceError(error) }
    }
}

/// Why the run service refused or stopped, for the command line (exit codes) and the API
/// (HTTP statuses) to tell apart.
public enum RunServiceError: Error, Sendable, CustomStringConvertible {
    case notFound(RunID)
    case exists(RunID)
    case badName(String)
    /// Completed or aborted: nothing more is approved, aborted or resumed.
    case finished(RunID, RunState)
    /// Another owner drives the run, holds its machines, or took it over.
    case owned(OwnershipError)
    case noGate(run: RunID, gate: String, gates: [String])
    case alreadyApproved(JournalError)
    /// The inventory cannot be carried out as it stands: every problem.
    case badInventory(file: String, problems: [String])
    /// A logon's password cannot be read: every problem, each located in the inventory.
    case logons(problems: [String])
    /// The real hosts' preflight failed: every failure, nothing started.
    case preflightFailed(problems: [String])
    /// The lab twin or a fault cannot be used, as the twin said.
    case lab(LabError)
    /// The journal failed (it cannot be reached, is damaged or newer), as it said.
    case journal(JournalError)
    /// Anything else that failed (a file, the system), as it was thrown.
    case storage(any Error)

    init(_ error: any Error) {
        switch error {
        case let error as RunServiceError: self = error
        case let error as OwnershipError: self = .owned(error)
        case let error as JournalError:
            if case .alreadyApproved = error {
                self = .alreadyApproved(error)
            } else {
                self = .journal(error)
            }
        case let error as LabError: self = .lab(error)
        case let error as RunExists: self = .exists(error.run)
        default: self = .storage(error)
        }
    }

    public var description: String {
        switch self {
        case .notFound(let run): "no run '\(run)'"
        case .exists(let run): "a run named \(run) exists already; resume it or choose another name"
        case .badName(let name): "'\(name.prefix(80))' cannot name a run: use \(RunID.nameRule)"
        case .finished(let run, let state): "run \(run) is \(state.rawValue) already; nothing more can change it"
        case .owned(let reason): reason.description
        case .noGate(let run, let gate, let gates):
            "run \(run) has no gate '\(gate)'; its gates: \(gates.joined(separator: ", "))"
        case .alreadyApproved(let error): error.description
        case .badInventory(let file, let problems):
            problems.map { "\(file): error: \($0)" }.joined(separator: "\n")
        case .preflightFailed(let problems): "the preflight failed: " + problems.joined(separator: "; ")
        case .logons(let problems): problems.joined(separator: "\n")
        case .lab(let error): error.description
        case .journal(let error): error.description
        case .storage(let error): "\(error)"
        }
    }
}

import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
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
            id: new.id ?? "", organization: new.inventory.organization, package: new.plan.package.id,
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
            twin.learn(PackageCatalogue(inventory: new.inventory))
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
        let before = try await wrap { try await journal.lease(of: id) }
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
            // The journal says running, yet the lease was free: its controller stopped.
            if record.state == .running, let before {
                let at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: before.heartbeat))
                try await run.journal.note(
                    run: id,
                    "\(RunNote.interrupted) its controller (\(before.owner.host), process \(before.owner.pid)) stopped; "
                        + "last heard of at \(at); \(action) by \(by)")
            }
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

    // MARK: Helpers

    /// A run's name: 1 to 64 letters, digits, `.`, `_` or `-` (it appears in commands, paths
    /// and addresses).
    public static func isRunName(_ name: String) -> Bool { RunID.isValidName(name) }

    func existing(_ id: RunID) async throws(RunServiceError) -> RunRecord {
        guard let record = try await wrap({ try await journal.run(id) }) else {
            let names = (try? await journal.runs().map(\.id.rawValue)) ?? []
            throw .notFound(id, nearest: Spelling.closest(to: id.rawValue, among: names).map { RunID($0) })
        }
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

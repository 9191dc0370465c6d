import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner

/// The rules every entrance applies the same way, so that `baton plan`, `baton run`, the API
/// and the dashboard cannot disagree: which package an id names and the plan for it, and
/// where a run's gates stand.
extension RunService {
    /// Why an inventory has no plan for a package id.
    public enum PlanningError: Error, Sendable, CustomStringConvertible {
        /// No package of the built-in catalogue or the inventory has the id (Baton's exit code 2).
        case unknownPackage(PackageID, known: [PackageID])
        /// The package cannot be rolled out safely (exit code 3).
        case refused(PlanRefusal)
        /// `--to` or `--limit` names nothing (exit code 2): every problem.
        case badRequest([String])

        public var description: String {
            switch self {
            case .unknownPackage(let id, let known):
                "unknown package '\(id)'"
                    + (Spelling.closest(to: id.spelling, among: known.map(\.spelling)).map { "; did you mean '\($0)'?" }
                        ?? "; known packages: \(known.map(\.spelling).joined(separator: ", "))")
            case .refused(let refusal): "refused by rule \(refusal.rule): \(refusal.message)"
            case .badRequest(let problems): problems.joined(separator: "\n")
            }
        }
    }

    /// The package `id` names in `inventory`'s catalogue (the built-in packages and its own).
    public static func package(_ id: PackageID, in inventory: Inventory) throws(PlanningError) -> Package {
        let catalogue = PackageCatalogue(inventory: inventory)
        guard let package = catalogue.package(id) else {
            throw .unknownPackage(id, known: catalogue.packages.map(\.id))
        }
        return package
    }

    /// The package `id` names and `inventory`'s plan for it.
    public static func plan(_ inventory: Inventory, _ id: PackageID) throws(PlanningError) -> (Package, Plan) {
        let package = try package(id, in: inventory)
        do {
            return (package, try Planner(inventory: inventory, package: package).plan())
        } catch {
            throw .refused(error)
        }
    }

    /// What a plan is asked for: one package, or every server toward a target; either limited
    /// to a canary's scope.
    public struct PlanRequest: Sendable, Hashable {
        public enum What: Sendable, Hashable {
            case package(PackageID)
            case target(UpdateTarget)
        }

        public var what: What
        /// `--limit` as given.
        public var limit: String?

        public init(_ what: What, limit: String? = nil) {
            self.what = what
            self.limit = limit
        }
    }

    /// The plan `request` asks of `inventory`, with the package it names (for a target, one
    /// named by the target: "latest").
    public static func plan(_ inventory: Inventory, _ request: PlanRequest) throws(PlanningError) -> (Package, Plan) {
        var limit: Limit?
        if let text = request.limit {
            do { limit = try Limit(text, in: inventory) } catch { throw .badRequest(error.messages) }
        }
        switch request.what {
        case .package(let id):
            let package = try package(id, in: inventory)
            if limit != nil, package.product?.isModern != true {
                throw .badRequest([
                    "--limit is for Exchange 2013 and later; KB 328839's procedures for \(package.id) take the organization as a whole"
                ])
            }
            do {
                return (package, try Planner(inventory: inventory, package: package).plan(limit: limit))
            } catch {
                throw .refused(error)
            }
        case .target(let target):
            let plan: Plan
            do {
                plan = try Planner.plan(inventory, to: target, catalogue: PackageCatalogue(inventory: inventory), limit: limit)
            } catch {
                throw .refused(error)
            }
            let summary = plan.package
            let package = Package(
                id: summary.id, target: .exchange(Product(rawValue: summary.product) ?? .exchangeSE), kind: summary.kind,
                restart: summary.restart, changesStore: false)
            return (package, plan)
        }
    }

    /// The packages of `inventory`'s catalogue that would change something in it: their plan
    /// is not refused and installs on at least one server.
    public static func packagesThatApply(to inventory: Inventory) -> [Package] {
        PackageCatalogue(inventory: inventory).packages.filter { package in
            guard let plan = try? Planner(inventory: inventory, package: package).plan() else { return false }
            return plan.steps.contains { $0.action == .install }
        }
    }

    /// Where a gate of a run stands.
    public struct GateStatus: Sendable, Hashable {
        public enum State: String, Sendable {
            /// Everything before it succeeded and nobody approved it: the run waits for it.
            case waiting
            case approved
            /// Steps before it are still to run.
            case pending
        }

        public var gate: String
        public var step: StepID
        public var why: String
        public var state: State
        /// The first approval, when there is one.
        public var approval: ApprovalRecord?
    }

    /// Each gate of `plan`, in the plan's order: approved when someone approved it or its step
    /// succeeded, waiting when every step before it succeeded, pending otherwise.
    public static func gates(of plan: Plan, steps: [StepRecord], approvals: [ApprovalRecord]) -> [GateStatus] {
        let records = Dictionary(steps.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let approved = Dictionary(approvals.map { ($0.gate, $0) }, uniquingKeysWith: { first, _ in first })
        return plan.steps.compactMap { step in
            guard let gate = step.gate else { return nil }
            let approval = approved[gate]
            let state: GateStatus.State =
                approval != nil || records[step.id]?.state == .succeeded
                ? .approved : step.after.allSatisfy { records[$0]?.state == .succeeded } ? .waiting : .pending
            return GateStatus(gate: gate, step: step.id, why: step.why, state: state, approval: approval)
        }
    }

    /// The gates of a run as `gates(of:steps:approvals:)` gives them.
    public func gates(of run: RunID) async throws(RunServiceError) -> [GateStatus] {
        let journal = self.journal
        return try await wrap {
            guard let plan = try await journal.plan(of: run) else { return [] }
            return Self.gates(
                of: plan, steps: try await journal.steps(of: run), approvals: try await journal.approvalRecords(of: run)
            )
        }
    }
}

extension RunService {
    /// What a run that stopped part way has left out of service, from its plan and its steps'
    /// states alone (so on real hosts as on the twin): each step that took something out of
    /// service and succeeded (or was under way) while the step that brings it back has not
    /// succeeded. In the plan's order, one line each, naming the step that brings it back.
    public static func outOfService(plan: Plan, steps: [StepRecord]) -> [String] {
        let states = Dictionary(steps.map { ($0.id, $0.state) }, uniquingKeysWith: { _, last in last })
        /// What each action takes out of service, and the action that brings it back.
        let pairs: [Action: (back: Action, what: (Step) -> String?)] = [
            .drainTransport: (.resumeTransport, { $0.host.map { "\($0) takes no new mail (HubTransport draining)" } }),
            .startDagMaintenance: (
                .stopDagMaintenance,
                { step in step.host.map { "\($0) is in DAG maintenance mode (activation blocked, cluster node paused)" } }
            ),
            .serverOffline: (.serverOnline, { $0.host.map { "\($0) is offline (ServerWideOffline inactive)" } }),
            .leavePool: (.rejoinPool, { step in step.host.map { "\($0) is out of load-balanced pool \(step.pool ?? "")" } }),
            .resourcesOffline: (.resourcesOnline, { $0.group.map { "Exchange Virtual Server \($0) is offline" } }),
            .stopClusterService: (.startClusterService, { $0.host.map { "the Cluster service of node \($0) is stopped" } }),
            .quiesce: (.restoreServices, { $0.host.map { "antivirus and other agents are paused on \($0)" } }),
        ]
        let backActions = Set(pairs.values.map(\.back))
        // Per thing taken out (action and subject), the step that took it out, in plan order.
        var open: [String: (step: Step, back: Action)] = [:]
        var order: [String] = []
        for step in plan.steps {
            let subject = (step.group ?? step.host)?.spelling.lowercased() ?? ""
            let state = states[step.id] ?? .pending
            let happened = state == .succeeded || state == .running || state == .failed
            if let pair = pairs[step.action], happened {
                let key = "\(step.action.rawValue) \(subject)"
                if open[key] == nil { order.append(key) }
                open[key] = (step, pair.back)
            } else if backActions.contains(step.action), state == .succeeded {
                for (action, pair) in pairs where pair.back == step.action {
                    open["\(action.rawValue) \(subject)"] = nil
                }
            }
        }
        return order.compactMap { key in
            guard let (step, back) = open[key], let what = pairs[step.action]?.what(step) else { return nil }
            let returning = plan.steps.first { $0.action == back && ($0.group ?? $0.host) == (step.group ?? step.host) }
            let unsure = states[step.id] != .succeeded ? ", perhaps: \(step.id) did not finish" : ""
            return what + unsure + (returning.map { " (\($0.id) \($0.action.rawValue) brings it back)" } ?? "")
        }
    }
}

import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonRemote
import BatonStore
import Foundation
import Synchronization

/// Why the run service refused or stopped, for the command line (exit codes) and the API
/// (HTTP statuses) to tell apart.
public enum RunServiceError: Error, Sendable, CustomStringConvertible {
    /// No such run; `nearest` is the run whose name is nearest, when one is near (a typo).
    case notFound(RunID, nearest: RunID? = nil)
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
        case .notFound(let run, let nearest): "no run '\(run)'" + (nearest.map { "; did you mean '\($0)'?" } ?? "")
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

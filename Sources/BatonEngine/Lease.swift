import BatonModel
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Who drives a run: one process of one machine. The random instance tells two processes apart
/// even when an operating system reuses a process id.
public struct LeaseOwner: Sendable, Hashable, Codable {
    public var host: String
    public var pid: Int32
    /// When the process started, in the kernel's ticks since boot (`/proc/PID/stat`): a
    /// process id reused by a later process has another start time.
    public var processStart: UInt64
    public var instance: String

    public init(host: String, pid: Int32, processStart: UInt64, instance: String) {
        self.host = host
        self.pid = pid
        self.processStart = processStart
        self.instance = instance
    }

    /// This process.
    public static let current = LeaseOwner(
        host: ProcessInfo.processInfo.hostName, pid: getpid(), processStart: processStartTime(getpid()) ?? 0,
        instance: UUID().uuidString)

    /// Whether this owner's process has certainly ended: it ran on this machine and no process
    /// with its id and start time exists any more. An owner on another machine is never known
    /// to be gone; its lease expires instead.
    public var isGoneFromThisMachine: Bool {
        guard host == LeaseOwner.current.host else { return false }
        guard let start = Self.processStartTime(pid) else { return true }
        return processStart != 0 && start != processStart
    }

    /// Field 22 of `/proc/PID/stat`; nil when there is no such process.
    static func processStartTime(_ pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After the command's name in parentheses: state is field 3, start time field 22.
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}

/// The right to drive one run, held in the journal: the owner, an epoch that grows with every
/// takeover, and the owner's last heartbeat. Every write the owner makes carries the epoch; the
/// journal refuses one from an older epoch, so a process that lost its lease applies nothing.
public struct Lease: Sendable, Hashable {
    public var run: RunID
    public var owner: LeaseOwner
    public var epoch: Int64
    /// Seconds since 1970.
    public var heartbeat: Double
    public var acquired: Double
    /// Seconds without a heartbeat after which the lease is free; 0 once its owner let it go.
    public var expiry: Double

    public init(run: RunID, owner: LeaseOwner, epoch: Int64, heartbeat: Double, acquired: Double, expiry: Double) {
        self.run = run
        self.owner = owner
        self.epoch = epoch
        self.heartbeat = heartbeat
        self.acquired = acquired
        self.expiry = expiry
    }

    /// Whether its owner still drives the run at `now`: a heartbeat within the expiry, from a
    /// process that has not ended.
    public func isLive(at now: Double) -> Bool {
        expiry > 0 && now - heartbeat < expiry && !owner.isGoneFromThisMachine
    }

    /// "process 4242 on ctl1 since 10:02; last heartbeat 2 s ago"
    public func describe(at now: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = now - acquired < 86400 ? "HH:mm:ss" : "yyyy-MM-dd HH:mm:ss"
        let since = formatter.string(from: Date(timeIntervalSince1970: acquired))
        return
            "process \(owner.pid) on \(owner.host) since \(since); last heartbeat \(Int((now - heartbeat).rounded())) s ago"
    }
}

/// Why a run or a machine could not be taken, or was lost.
public enum OwnershipError: Error, Sendable, CustomStringConvertible {
    /// Another live process drives the run.
    case runOwned(Lease)
    /// Another live run acts on the same machines (`what` names them: the lab twin, a host).
    case targetBusy(what: String, run: RunID, lease: Lease)
    /// This process's lease was taken over (or expired and was taken): it must stop at once.
    case leaseLost(run: RunID, by: Lease?)

    public var description: String {
        let now = Date().timeIntervalSince1970
        switch self {
        case .runOwned(let lease):
            return "\(lease.run) is being driven by \(lease.describe(at: now))"
        case .targetBusy(let what, let run, let lease):
            return "\(what) is in use by run \(run), driven by \(lease.describe(at: now))"
        case .leaseLost(let run, let lease):
            let taker = lease.map { ": \($0.run) is now driven by \($0.describe(at: now))" } ?? ""
            return "this process no longer owns \(run)\(taker); it applied nothing more"
        }
    }
}

/// Who may drive a run: the one decision both journals make, inside their own transactions,
/// from what they read there. A live lease of another instance keeps the run; a claim held by
/// another live run keeps its target; otherwise the lease is granted with the epoch one more
/// than before (fencing: every write of the previous owner carries the old epoch and is
/// refused). It reads nothing and writes nothing, so it is tested by itself.
public enum OwnershipDecision {
    /// The lease to write for `owner`, or why not.
    /// - Parameters:
    ///   - previous: the run's lease as stored, live or not.
    ///   - claims: each claim the run makes, with the live lease of the run holding it now.
    public static func grant(
        run: RunID, to owner: LeaseOwner, expiry: Double, previous: Lease?, claims: [(claim: Claim, holder: Lease?)],
        now: Double
    ) throws(OwnershipError) -> Lease {
        if let previous, previous.isLive(at: now), previous.owner.instance != owner.instance {
            throw .runOwned(previous)
        }
        for (claim, holder) in claims {
            if let holder, holder.run != run, holder.isLive(at: now) {
                throw .targetBusy(what: claim.label, run: holder.run, lease: holder)
            }
        }
        return Lease(
            run: run, owner: owner, epoch: (previous?.epoch ?? 0) + 1, heartbeat: now, acquired: now, expiry: expiry)
    }

    /// The next free run name: `run-N`, N one more than the runs there are, or the first free
    /// after it.
    public static func nextRunName(existing: Set<String>) -> RunID {
        var number = existing.count + 1
        while existing.contains("run-\(number)") { number += 1 }
        return RunID("run-\(number)")
    }

    /// A process start time as both journals store it (a signed 64-bit column) and back: the
    /// same bits, so no value traps.
    public static func stored(processStart: UInt64) -> Int64 { Int64(bitPattern: processStart) }
    public static func processStart(stored: Int64) -> UInt64 { UInt64(bitPattern: stored) }
}

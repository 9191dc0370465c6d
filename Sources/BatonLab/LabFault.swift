import BatonModel

/// A fault injected into the twin. Conditions (an evicted node, a running installer, a
/// full disk) hold until fixed; events (a FileInUse install, a move that fails) happen once,
/// at the next matching action, so that a run resumed after "fixing" them goes through.
public struct LabFault: Sendable, Codable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The next install on the host meets a file held open: `FileInUse:: Added to Filelist:`.
        case fileInUse = "file-in-use"
        /// The host does not come back after its next restart.
        case noReturnAfterRestart = "no-return-after-restart"
        /// The next move of the group fails; it stays where it was.
        case moveFails = "move-fails"
        /// The next move of the group hangs until the step times out.
        case moveHangs = "move-hangs"
        /// The next "Upgrade Exchange Virtual Server" of the group fails with c1037b44.
        case evsUpgradeFails = "evs-upgrade-fails"
        /// The node was evicted from the cluster and added back (event 1025).
        case evicted
        /// Another setup, update or xcopy is running on the host.
        case installerRunning = "installer-running"
        /// The host's system disk is full.
        case diskFull = "disk-full"
        /// Exchange 2013 and later: an earlier failed update left the Exchange services
        /// stopped and disabled; setup cannot start them.
        case servicesDisabled = "services-disabled"
        /// Exchange 2013 and later: the next StartDagServerMaintenance.ps1 meets
        /// AmDbMoveMoveSuppressedBlackoutException (databases moved a short while ago).
        case moveBlackout = "move-blackout"
        /// Exchange 2013 and later: after the update, ServerWideOffline stays Inactive under the
        /// requester "Functional", so the next server-online does not bring the server back.
        case functionalRequester = "functional-requester"
        /// Exchange 2013 and later: the next security update on the host is installed from a
        /// prompt that is not elevated. It says it succeeded, but Outlook on the web and the ECP
        /// answer HTTP 500 until it is installed again from an elevated prompt (`baton lab fix`).
        case suNotElevated = "su-not-elevated"
        /// Exchange 2013 and later: the next /PrepareAD on the host runs from a site other than
        /// the schema master's, and setup refuses to create the organization-level objects.
        case prepareADWrongSite = "prepare-ad-wrong-site"
        /// Exchange 2013 and later: after the host prepares Active Directory, the next wait for
        /// replication finds a domain controller that has not received the change yet.
        case replicationPending = "replication-pending"
        /// Exchange 2013 and later: the next cumulative update on the host is started as a bare
        /// `setup.exe`, which runs the copy already installed in `V15\Bin` rather than the
        /// media's. It says it succeeded and upgrades nothing; the version check finds the old
        /// build until the media's setup is run (`baton lab fix`).
        case bareSetup = "bare-setup"
        /// Exchange 2013 and later: a DAG's file share witness does not answer (its server is down
        /// or unreachable) until fixed. The DAG's `check-witness` fails; a DAG that loses its
        /// majority meanwhile dismounts every database.
        case witnessDown = "witness-down"
        /// Exchange 2013 and later: the server is reached with an SSH key logon, which on
        /// Windows OpenSSH carries no network credentials, until fixed (a logon with the
        /// account's password): its session cannot read Active Directory or another DAG member,
        /// so the network probe fails before a run's first step, and setup's Active Directory
        /// work, the maintenance scripts and Redirect-Message fail on it.
        case keyLogon = "key-logon"
        /// Exchange 2013 and later: when the host next leaves DAG maintenance, its copies take
        /// four hours to resynchronize, longer than the copy check waits.
        case slowResync = "slow-resync"
        /// Exchange 2013 and later: a domain controller does not answer until fixed; Active
        /// Directory changes never reach it, so the wait for replication fails, naming it.
        case dcUnreachable = "dc-unreachable"
        /// Exchange 2013 and later: a message stays in the host's queue until fixed (a
        /// destination that does not answer): Redirect-Message cannot drain it within 15 minutes.
        case queueStuck = "queue-stuck"

        /// What a kind of fault names.
        public enum Target: Sendable { case host, virtualServer, modernServer, witness, domainController }
        /// How long it lasts: until fixed, once, or once with damage that stays until fixed.
        public enum Duration: Sendable { case condition, event, eventLeavingDamage }

        /// Each kind's target and duration, in one switch: a new kind must say both.
        public var shape: (target: Target, lasts: Duration) {
            switch self {
            case .fileInUse: (.host, .event)
            case .noReturnAfterRestart: (.host, .eventLeavingDamage)
            case .moveFails, .moveHangs, .evsUpgradeFails: (.virtualServer, .event)
            case .evicted, .installerRunning, .diskFull: (.host, .condition)
            case .servicesDisabled, .keyLogon: (.modernServer, .condition)
            case .witnessDown: (.witness, .condition)
            case .dcUnreachable: (.domainController, .condition)
            case .queueStuck: (.modernServer, .condition)
            case .moveBlackout, .functionalRequester, .prepareADWrongSite, .replicationPending, .slowResync:
                (.modernServer, .event)
            case .suNotElevated, .bareSetup: (.modernServer, .eventLeavingDamage)
            }
        }

        /// Whether the fault names a group rather than a host.
        public var targetsGroup: Bool { shape.target == .virtualServer }
        /// Whether it happens once rather than holding until fixed.
        public var isEvent: Bool { shape.lasts != .condition }
        /// Whether it concerns servers of Exchange 2013 and later only.
        public var isModernOnly: Bool { [.modernServer, .witness, .domainController].contains(shape.target) }
        /// Whether what it leaves behind lasts until an operator fixes it (a condition, or an
        /// event whose damage stays: a host that did not come back, an update to install again).
        public var needsOperator: Bool { shape.lasts != .event }
    }

    public var kind: Kind
    /// The host or group it concerns.
    public var target: HostName

    public init(_ kind: Kind, _ target: HostName) {
        self.kind = kind
        self.target = target
    }

    public var description: String { "\(kind.rawValue) on \(target)" }
}

import Foundation

/// A known failure of KB 328839: what it looks like in an installer log, an event log or an
/// error message, its cause and its remedy, with the rule it belongs to.
public struct Diagnosis: Sendable {
    public var rule: Rule.ID
    /// What was found, in a few words.
    public var title: String
    public var cause: String
    public var remedy: String
    /// Recognises the failure on one line, given the lines around it (event log exports
    /// spread one event over several lines).
    let matches: @Sendable (_ line: LogLine, _ nearby: ArraySlice<LogLine>) -> Bool

    init(
        _ rule: Rule.ID, _ title: String, cause: String, remedy: String,
        matches: @escaping @Sendable (_ line: LogLine, _ nearby: ArraySlice<LogLine>) -> Bool
    ) {
        self.rule = rule
        self.title = title
        self.cause = cause
        self.remedy = remedy
        self.matches = matches
    }

    /// One recognised failure in a text.
    public struct Finding: Sendable, Hashable {
        public var rule: Rule.ID
        public var title: String
        public var cause: String
        public var remedy: String
        /// 1-based line of the text where it was recognised.
        public var line: Int
        public var excerpt: String
    }

    /// Every known failure in `text`, in the order they appear; each failure once per line.
    public static func findings(in text: String) -> [Finding] {
        var scanner = Scanner()
        var found: [Finding] = []
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            found += scanner.add(String(line))
        }
        return found + scanner.finish()
    }

    /// Finds known failures in a text given a line at a time, holding only the lines around
    /// the one it looks at (an event spread over several lines is recognised from those), so
    /// a log of any length is read in bounded memory. A line is looked at up to its first
    /// `lineLimit` bytes; matching takes time linear in the text (no pattern backtracks).
    public struct Scanner: Sendable {
        /// Lines looked at before and after the one recognised.
        static let context = 8
        /// Bytes of a line looked at: real log lines are far shorter.
        public static let lineLimit = 8192

        var window: [LogLine] = []
        /// The 1-based number of `window`'s first line.
        var first = 1
        /// The next line to look at.
        var next = 1
        /// The last line each rule was found at, to report an event spread over lines once.
        var lastFound: [Rule.ID: Int] = [:]

        public init() {}

        /// Lines given so far.
        public var lines: Int { first + window.count - 1 }

        /// Takes the next line; returns what is recognised on the lines now seen in context.
        public mutating func add(_ line: String) -> [Finding] {
            window.append(LogLine(line.utf8.count > Self.lineLimit ? String(decoding: line.utf8.prefix(Self.lineLimit), as: UTF8.self) : line))
            var found: [Finding] = []
            while next + Self.context <= lines { found += look(at: next) }
            let keep = next - Self.context
            if keep > first {
                window.removeFirst(keep - first)
                first = keep
            }
            return found
        }

        /// What is recognised on the last lines, which have no more lines after them.
        public mutating func finish() -> [Finding] {
            var found: [Finding] = []
            while next <= lines { found += look(at: next) }
            return found
        }

        mutating func look(at number: Int) -> [Finding] {
            defer { next = number + 1 }
            let index = number - first
            let line = window[index]
            let nearby = window[max(0, index - Self.context)..<min(window.count, index + Self.context + 1)]
            var found: [Finding] = []
            for diagnosis in catalogue where diagnosis.matches(line, nearby) {
                // An event spread over several lines is reported once, at its first line.
                if diagnosis.rule == .e2003Event1025, let last = lastFound[diagnosis.rule],
                    number - last <= Self.context
                {
                    continue
                }
                lastFound[diagnosis.rule] = number
                found.append(
                    Finding(
                        rule: diagnosis.rule, title: diagnosis.title, cause: diagnosis.cause, remedy: diagnosis.remedy,
                        line: number,
                        excerpt: String(line.text.prefix(400).trimmingCharacters(in: .whitespaces).prefix(160))))
            }
            return found
        }
    }

    /// Whether `line` holds one of each group's phrases, in the groups' order (case aside),
    /// each group's after the last; with `sentence`, all within one sentence (no `.` between).
    /// Time linear in the line: the earliest end of each group is where the next may begin,
    /// which no later choice could improve on. (A pattern such as `a.*b.*c` would backtrack.)
    static func inOrder(_ line: LogLine, sentence: Bool = false, _ groups: [String]...) -> Bool {
        line.lower.withUnsafeBytes { bytes in
            var parts: [Range<Int>] = []
            if sentence {
                var begin = 0
                while begin <= bytes.count {
                    let stop = LogLine.find(".", in: bytes, from: begin, to: bytes.count)?.lowerBound ?? bytes.count
                    parts.append(begin..<stop)
                    begin = stop + 1
                }
            } else {
                parts = [0..<bytes.count]
            }
            return parts.contains { part in
                var from = part.lowerBound
                for group in groups {
                    let ends = group.compactMap { LogLine.find($0, in: bytes, from: from, to: part.upperBound)?.upperBound }
                    guard let end = ends.min() else { return false }
                    from = end
                }
                return true
            }
        }
    }

    /// Whether `line` holds any of `words` (case aside).
    static func contains(_ line: LogLine, _ words: String...) -> Bool {
        words.contains { line.has($0) }
    }

    /// The failures KB 328839 describes, with its remedies, then those of Exchange 2013 and later.
    public static let catalogue: [Diagnosis] = kb328839 + modernExchange

    /// Cumulative and security updates of Exchange 2013 and later: ExchangeSetup.log, the
    /// security update's installer log and pasted errors.
    static let modernExchange: [Diagnosis] = [
        Diagnosis(
            .mxServicesDisabled, "the Exchange services were left stopped or disabled",
            cause:
                "a cumulative or security update failed or was interrupted after it stopped and disabled the services",
            remedy:
                "rename C:\\ExchangeSetupLogs, run V15\\Bin\\ServiceControl.ps1 AfterPatch (after Add-PSSnapin Microsoft.Exchange.Management.PowerShell.Setup), start the services, then run the media's setup /Mode:Upgrade again",
            matches: { line, _ in
                contains(line, "Cannot start the service Microsoft Exchange")
                    || inOrder(line, ["msexchange"], ["starttype", "start type"], ["disabled"])
            }),
        Diagnosis(
            .mxFailedUpdateComponents, "server components held Inactive by the requester Functional",
            cause:
                "a failed update left components Inactive under the \"Functional\" requester, so the server serves nothing",
            remedy:
                "Set-ServerComponentState <server> -Component ServerWideOffline -State Active -Requester Functional, and the same for Monitoring and RecoveryActionsEnabled",
            matches: { line, nearby in
                contains(line, "Functional") && contains(line, "Inactive")
                    && (contains(line, "ServerWideOffline", "Component")
                        || nearby.contains { contains($0, "Requester") })
            }),
        Diagnosis(
            .mxReadinessRebootPending, "a restart is pending from an earlier installation",
            cause:
                "setup's readiness checks (RebootPending, PendingRebootWindowsComponents) found a restart still pending",
            remedy:
                "restart the server; if setup still says so, run HealthChecker or SetupAssist.ps1 to find which registry marker is set, and clear it",
            matches: { line, _ in
                contains(
                    line, "restart from a previous installation or update is pending", "PendingRebootWindowsComponents",
                    "RebootPending")
            }),
        Diagnosis(
            .mxPrepareADWrongSite, "/PrepareAD ran outside the schema master's site",
            cause: "the machine running setup is not in the same domain and Active Directory site as the schema master",
            remedy:
                "run setup /PrepareAD with the licence switch from a machine in the schema master's domain and site (netdom query fsmo finds it), then wait for replication",
            matches: { line, _ in
                contains(line, "same domain and site as the schema master", "isn't in the same domain and site")
                    || (contains(line, "organization-level objects") && contains(line, "haven't been created"))
            }),
        Diagnosis(
            .mxPrepareADWellKnownObject, "an otherWellKnownObjects entry points to a deleted object",
            cause:
                "Active Directory holds a well-known object entry for Exchange that points to an invalid DN or a deleted object",
            remedy:
                "run SetupAssist.ps1 -OtherWellKnownObjects, import the fix file it writes, then run /PrepareAD again",
            matches: { line, _ in contains(line, "otherWellKnownObjects") }),
        Diagnosis(
            .mxSUCUSpecific, "a security update for another cumulative update",
            cause: "security updates install only on the cumulative update they were built for",
            remedy:
                "install the security update built for the server's cumulative update, or bring the server to the matching cumulative update first",
            matches: { line, _ in contains(line, "upgrade patch cannot be installed by the Windows Installer service") }
        ),
        Diagnosis(
            .mxSU1603, "error 1603: insufficient privileges on owa\\auth",
            cause:
                "the security update could not write to the owa\\auth folder of the build (permissions or stopped services)",
            remedy:
                "start the stopped Exchange services and retry as a local administrator, from an elevated prompt; check the folder's permissions (Authenticated Users read, SYSTEM and Administrators full control) and inheritance",
            matches: { line, nearby in
                (contains(line, "1603") && nearby.contains { contains($0, "owa\\auth", "insufficient privileges") })
                    || (contains(line, "insufficient privileges") && contains(line, "owa\\auth"))
            }),
        Diagnosis(
            .mxSUInterimUpdate, "an Interim Update conflicts with the security update",
            cause: "an Interim Update installed earlier is incompatible with the security update",
            remedy: "uninstall the Interim Update from Installed Updates, then install the security update again",
            matches: { line, _ in contains(line, "Interim Update is incompatible") }),
        Diagnosis(
            .mxSUNonElevatedHTTP500, "HTTP 500 from Outlook on the web after a security update",
            cause: "the security update was installed without elevation and left files not updated",
            remedy:
                "install the security update again from an elevated prompt (the .msp's full path), then restart the server",
            matches: { line, _ in
                contains(
                    line, "Could not load file or assembly 'Microsoft.Exchange",
                    "Could not load file or assembly Microsoft.Exchange")
            }),
        Diagnosis(
            .mxCURunDotSetup, "setup.exe ran the installed copy, not the media's",
            cause:
                "typed as a bare setup.exe, the command found the Setup.exe installed in V15\\Bin on the PATH: it upgrades nothing, or installs the wrong build (error 1619)",
            remedy:
                "run the media's setup by its path, .\\setup.exe from the media's folder or D:\\setup.exe /Mode:Upgrade with the licence switch, from an elevated prompt",
            matches: { line, nearby in
                contains(line, "\\V15\\Bin\\Setup.exe", "copy installed in V15\\Bin")
                    || (contains(line, "1619") && contains(line, "installation package could not be opened")
                        && nearby.contains { contains($0, "setup") })
            }),
        Diagnosis(
            .mxExecutionPolicyGPO, "the PowerShell execution policy is set by Group Policy",
            cause:
                "setup's readiness check fails while Group Policy sets the execution policy (MachinePolicy or UserPolicy)",
            remedy: "make the execution policy Undefined for the MachinePolicy and UserPolicy scopes while setup runs",
            matches: { line, _ in
                contains(line, "PowerShellExecutionPolicyCheckSet")
                    || (contains(line, "execution policy") && contains(line, "Group Policy"))
            }),
        Diagnosis(
            .mxMoveBlackout, "database moves are suppressed after recent moves",
            cause: "StartDagServerMaintenance.ps1 tried to move databases that moved a short while ago",
            remedy: "wait a few minutes and run StartDagServerMaintenance.ps1 again",
            matches: { line, _ in contains(line, "AmDbMoveMoveSuppressedBlackoutException") }),
        Diagnosis(
            .mxStartDagTwoCopies, "StartDagServerMaintenance.ps1 refused: critical resources remain",
            cause: "a database on the server would be left with fewer than two healthy copies",
            remedy:
                "run StartDagServerMaintenance.ps1 with -overrideMinimumTwoCopies when the databases have two copies by design, or wait for their other copies to be healthy",
            matches: { line, _ in
                contains(line, "critical resources") && contains(line, "StartDagServerMaintenance", "remain")
            }),
    ]

    static let kb328839: [Diagnosis] = [
        Diagnosis(
            .fileInUse, "a file was in use during the hotfix install",
            cause:
                "a running service or program (antivirus, backup agent, SNMP, a monitor) held a file the package had to replace; the package may not have installed",
            remedy: "find and stop the program (quiesce the server), then install the package again",
            matches: { line, _ in contains(line, "FileInUse::") }),
        Diagnosis(
            .e2003Event1025,
            "event 1025 from MSExchangeCluster: the virtual server must be upgraded before going online",
            cause:
                "the node was evicted from the cluster and added back, or the virtual server was brought online on an upgraded node before \"Upgrade Exchange Virtual Server\"",
            remedy:
                "run Exchange 2003 setup on that node and choose Reinstall; then take the virtual server's resources offline except IP Address, Network Name and Physical Disk, run \"Upgrade Exchange Virtual Server\" and bring it online",
            matches: { line, nearby in
                if contains(line, "needs to be upgraded before going online", "необходимо обновить перед") {
                    return true
                }
                guard contains(line, "MSExchangeCluster") else { return false }
                return nearby.contains { $0.word("1025") != nil }
            }),
        Diagnosis(
            .e2003C1037b44, "c1037b44: the version of Exchange does not match the virtual server's",
            cause:
                "the virtual server's resources sit on a node not yet upgraded, or Cluster Administrator runs on such a node",
            remedy:
                "move the virtual server to an upgraded node; take System Attendant offline; leave only IP Address, Network Name and Physical Disk online in its group; keep the Distributed Transaction Coordinator online; run Cluster Administrator on an upgraded node",
            matches: { line, _ in contains(line, "c1037b44", "does not match the version of Exchange on server") }),
        Diagnosis(
            .noConcurrentInstallers, "another installer was running",
            cause: "another instance of setup, update or xcopy was running on the server and can block the package",
            remedy:
                "wait for it to finish or end it (Task Manager shows setup.exe, update.exe, xcopy.exe), then install again",
            matches: { line, _ in
                inOrder(
                    line, sentence: true,
                    ["another ", "another instance of "].flatMap { a in ["setup", "update", "installation"].map { a + $0 } },
                    ["running"])
                    || contains(line, "setup is already running", "xcopy.exe")
            }),
        Diagnosis(
            .restartIfPrompted, "the installer asked for a restart",
            cause:
                "the package replaced files in use (for example when installed over a Terminal Services session) and needs a restart to finish",
            remedy:
                "restart the server when it is safe (on a cluster node, once it owns no group), then verify the version",
            matches: { line, _ in
                contains(
                    line, "restart required", "restart is required", "reboot required", "reboot is required",
                    "must restart", "must be restart", "exit code 3010", "exit code: 3010")
                    || line.word("3010").map { line.has("restart", from: $0) || line.has("reboot", from: $0) } == true
            }),
        Diagnosis(
            .clusterStopService, "the Cluster service was running during the install",
            cause: "on a cluster node the Cluster service and its resources hold files the installer must replace",
            remedy: "move every group off the node, stop its Cluster service, and install again",
            matches: { line, _ in
                contains(
                    line, "cluster service running", "cluster service is running", "cluster service still running",
                    "cluster service is still running", "stop the cluster service")
            }),
        Diagnosis(
            .backupAfter, "a backup from an earlier level cannot be restored",
            cause:
                "online backups taken before a service pack cannot be restored onto the server at its new level (KB 316794)",
            remedy:
                "restore onto a server at the backup's level, or use a full backup taken after the service pack; take one now if there is none",
            matches: { line, _ in
                inOrder(
                    line, ["cannot restore", "unable to restore", "failed to restore"],
                    ["earlier ", "previous ", "older "].flatMap { a in ["version", "service pack", "level"].map { a + $0 } })
                    || contains(line, "316794")
            }),
        Diagnosis(
            .noUninstall, "an attempt to uninstall a service pack",
            cause: "a service pack cannot be uninstalled",
            remedy:
                "to go back: uninstall Exchange, reinstall it at the original level, and restore the databases and system state from the backups taken before the service pack",
            matches: { line, _ in
                inOrder(line, sentence: true, ["uninstall", "remove"], ["service pack"])
                    || inOrder(line, sentence: true, ["service pack"], ["cannot be uninstalled", "cannot be removed"])
            }),
        Diagnosis(
            .e2003ADCSeparate, "the Active Directory Connector was not upgraded",
            cause:
                "the service pack does not upgrade the ADC; it has its own setup in the service pack's ADC\\I386 folder (KB 306505 when files are customised)",
            remedy:
                "carry any Local.map/Remote.map customisations into the new map files, export msExchServer1SchemaMap and msExchServer2SchemaMap, then run the ADC setup from ADC\\I386",
            matches: { line, _ in
                inOrder(
                    line, ["active directory connector"], ["upgrade", "update", "version"], ["fail", "not", "mismatch"])
                    || contains(line, "306505")
            }),
    ]
}

/// A line of a log as the diagnoses read it: as written (for the excerpt) and lower-cased as
/// UTF-8 bytes, searched with memchr: time linear in the line, whatever it holds.
public struct LogLine: Sendable {
    public let text: String
    let lower: [UInt8]

    static let capitalA: UInt8 = 0x41
    static let capitalZ: UInt8 = 0x5A
    static let caseBit: UInt8 = 0x20
    static let cyrillicLead: UInt8 = 0xD0
    static let cyrillicCapitals: ClosedRange<UInt8> = 0x90...0xAF
    static let cyrillicFirstRowEnd: UInt8 = 0x9F

    /// Lower-cased byte by byte: ASCII, and the Cyrillic capitals (KB 328839's Russian event
    /// text); anything else as it is.
    public init(_ text: String) {
        self.text = text
        var lower: [UInt8] = Array(text.utf8)
        var lead: UInt8 = 0
        for index in lower.indices {
            let byte: UInt8 = lower[index]
            if byte >= Self.capitalA, byte <= Self.capitalZ {
                lower[index] = byte | Self.caseBit
            } else if lead == Self.cyrillicLead, Self.cyrillicCapitals.contains(byte) {
                // А–П → а–п (D0 B0–BF); Р–Я → р–я (D1 80–8F).
                if byte <= Self.cyrillicFirstRowEnd {
                    lower[index] = byte + Self.caseBit
                } else {
                    lower[index - 1] = Self.cyrillicLead + 1
                    lower[index] = byte - Self.caseBit
                }
            }
            lead = byte
        }
        self.lower = lower
    }

    static func lowered(_ byte: UInt8) -> UInt8 {
        byte >= capitalA && byte <= capitalZ ? byte | caseBit : byte
    }

    /// Whether the line holds `phrase` (case aside), from byte `from` on.
    func has(_ phrase: String, from: Int = 0) -> Bool {
        lower.withUnsafeBytes { Self.find(phrase, in: $0, from: from, to: $0.count) } != nil
    }

    /// Where `number` first stands as a word of its own (not inside 10254 or x1025): the
    /// byte after it.
    func word(_ number: String) -> Int? {
        lower.withUnsafeBytes { bytes in
            var from = 0
            while let found = Self.find(number, in: bytes, from: from, to: bytes.count) {
                let before: UInt8? = found.lowerBound == 0 ? nil : bytes[found.lowerBound - 1]
                let after: UInt8? = found.upperBound == bytes.count ? nil : bytes[found.upperBound]
                if !Self.isWordByte(before), !Self.isWordByte(after) { return found.upperBound }
                from = found.lowerBound + 1
            }
            return nil
        }
    }

    static func isWordByte(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        let digits: ClosedRange<UInt8> = 0x30...0x39, letters: ClosedRange<UInt8> = 0x61...0x7A
        let underscore: UInt8 = 0x5F, nonASCII: UInt8 = 0x80
        return digits.contains(byte) || letters.contains(Self.lowered(byte)) || byte == underscore || byte >= nonASCII
    }

    /// The first place of `phrase` (case aside) in `bytes[from..<to]`: memchr to each place
    /// its first byte stands, then the rest compared, so at most the phrase's length in work
    /// for each byte searched.
    static func find(_ phrase: String, in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Range<Int>? {
        guard let base = bytes.baseAddress, from <= to else { return nil }
        var phrase = phrase
        return phrase.withUTF8 { needle -> Range<Int>? in
            guard let first = needle.first else { return from..<from }
            let count = needle.count
            var position = from
            while to - position >= count,
                let found = memchr(base + position, Int32(lowered(first)), to - position - count + 1)
            {
                let start = base.distance(to: UnsafeRawPointer(found))
                var same = true
                var offset = 1
                while offset < count {
                    if bytes[start + offset] != lowered(needle[offset]) {
                        same = false
                        break
                    }
                    offset += 1
                }
                if same { return start..<(start + count) }
                position = start + 1
            }
            return nil
        }
    }
}

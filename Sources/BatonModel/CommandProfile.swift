import Foundation

/// How a host's plan actions become commands: an entry of the inventory's `profiles:`
/// section (an addition to the inventory format), used by the hosts whose `profile` names it.
public struct CommandProfileSpec: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Commands from the inventory's templates, run by the host's shell.
        case shell
        /// Baton's PowerShell for Windows Server failover clusters; templates override it.
        case windowsFailoverCluster = "windows-failover-cluster"
        /// Baton's PowerShell for Exchange 2013 and later (Exchange Management Shell, the
        /// maintenance scripts Exchange ships); templates override it.
        case exchangePowerShell = "exchange-powershell"
    }

    public var name: String
    public var kind: Kind
    /// A template per action name, plus `restart` (what a `reboot` step runs) and `probe`
    /// (succeeds when the host is up and answering).
    public var commands: [String: String]
    /// Per action, a template that succeeds when the action already took effect: asked on
    /// resume for a step that was in flight, so nothing is done twice.
    public var checks: [String: String]
    /// How long a restarted host may take to come back, in seconds.
    public var restartTimeout: Int
    /// The entry of `logons:` its hosts log on with, unless a host names its own.
    public var logon: String?
    /// Per check of a state that settles (`check-copies`, `wait-replication`,
    /// `check-witness`): how often it is asked again and for how long, in seconds, replacing
    /// Baton's defaults.
    public var settle: [String: SettleSpec] = [:]
    public var location: SourceLocation

    public init(
        name: String, kind: Kind, commands: [String: String] = [:], checks: [String: String] = [:],
        restartTimeout: Int = 900, logon: String? = nil, location: SourceLocation
    ) {
        self.logon = logon
        self.name = name
        self.kind = kind
        self.commands = commands
        self.checks = checks
        self.restartTimeout = restartTimeout
        self.location = location
    }

    /// The profile hosts get when they name none: Exchange runs on Windows.
    public static let builtInName = Kind.windowsFailoverCluster.rawValue
    /// The built-in profiles' names: hosts name them without declaring them.
    public static let builtInNames: Set<String> = [
        Kind.windowsFailoverCluster.rawValue, Kind.exchangePowerShell.rawValue,
    ]

    /// Readiness probes `baton check` runs on each Exchange server whose profile has them.
    public static let readinessProbes = [
        "probe-build", "probe-pending-reboot", "probe-services", "probe-components", "probe-copies",
        "probe-execution-policy", "probe-prerequisites",
    ]

    /// The probe that shows a host's session can reach the network (Active Directory, the
    /// other DAG members): `baton check` and every run ask it of each host whose profile has it
    /// before anything changes (rule `windows-network-logon`).
    public static let networkProbe = "probe-network"

    /// Command names besides the actions.
    public static let extraCommands = ["restart", "probe", networkProbe] + readinessProbes

    /// What a template may name, as `{{name}}`: the step's fields and the host's address.
    public static let placeholders: Set<String> = [
        "host", "address", "group", "to", "pool", "package", "component", "build", "what", "keep", "when", "step",
        "run", "dag", "domains", "files", "override", "product", "kind", "installer", "peer", "schema-version",
        "organization-version", "domain-version", "backup-target", "settings", "services", "setup-switches",
        "dotnet", "dotnet-release", "runtimes", "edge", "health-checker", "prerequisites",
    ]

    /// Placeholders a command cannot run without: a host that lacks one is named before the
    /// first step.
    public static let required: [String: String] = [
        "backup-target": "say where its backups go: hosts: HOST: {backup-target: 'E:'} or a share, \\\\backup01\\exchange",
        "prerequisites":
            "say where the .NET Framework offline installers are: hosts: HOST: {prerequisites: '\\\\files01\\exchange\\prereqs'}",
    ]

    /// The `{{name}}` placeholders of a template, in order.
    public static func placeholders(in template: String) -> [String] {
        var names: [String] = []
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            names.append(String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces))
            rest = rest[close.upperBound...]
        }
        return names
    }
}

/// How a check of a state that settles is waited on, in seconds (a profile's `settle:`).
public struct SettleSpec: Sendable, Hashable, Codable {
    public var interval: Int
    public var timeout: Int

    public init(interval: Int, timeout: Int) {
        self.interval = interval
        self.timeout = timeout
    }

    /// How a plan says it: "Asked again every 30 s until it passes, for up to 30 min (a
    /// profile's settle: changes this)."
    public var sentence: String {
        let words = Self.words
        return "Asked again every \(words(interval)) until it passes, for up to \(words(timeout)) (a profile's settle: changes this)."
    }

    /// A wait as an administrator says it: "90 s", "12 min".
    public static func words(_ seconds: Int) -> String { seconds < 120 ? "\(seconds) s" : "\(seconds / 60) min" }

    /// The checks whose state settles, and Baton's defaults for them: a DAG's copies
    /// resynchronizing after a member returns, Active Directory replicating setup's change,
    /// the quorum after a member rejoins. Microsoft gives no figures; these are Baton's, and a
    /// profile's `settle:` replaces them.
    public static let defaults: [String: SettleSpec] = [
        "check-copies": SettleSpec(interval: 30, timeout: 1800),
        "wait-replication": SettleSpec(interval: 30, timeout: 3600),
        "check-witness": SettleSpec(interval: 30, timeout: 600),
    ]
}

/// Options for every OpenSSH connection (the inventory's `ssh:` section, an addition).
public struct SSHSettings: Sendable, Hashable {
    /// An ssh_config file to use instead of the user's (`ssh -F`).
    public var config: String?
    public var connectTimeout: Int
    /// Where `config` was given, for messages.
    public var configLocation: SourceLocation?
    /// The entry of `logons:` every ssh host logs on with, unless its own entry or its
    /// profile names another.
    public var logon: String?

    public init(
        config: String? = nil, connectTimeout: Int = 10, configLocation: SourceLocation? = nil, logon: String? = nil
    ) {
        self.logon = logon
        self.config = config
        self.connectTimeout = connectTimeout
        self.configLocation = configLocation
    }
}

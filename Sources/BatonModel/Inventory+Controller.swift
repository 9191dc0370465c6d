/// What in an inventory makes the controller (the machine Baton runs on) run commands of the
/// inventory's own choosing, beyond Baton's built-in profiles over OpenSSH. Whoever may hand
/// Baton such an inventory owns the controller: `baton serve` takes one only from its
/// `--inventories` folder (files an administrator placed) or from an `admin` token.
public struct ControllerPower: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// `hosts: X: {via: local}`: commands run in the controller's own shell.
        case localHost
        /// A `profiles:` entry: commands written in the inventory, not Baton's.
        case customProfile
        /// `ssh: {config: FILE}`: an ssh_config file runs commands on the controller
        /// (`ProxyCommand`, `LocalCommand`, `Match exec`) and is read by ssh as the server's user.
        case sshConfig
        /// A `logons:` entry: reads a file or an environment variable of the controller, or
        /// runs a command there, and sends what it read to the hosts the inventory names.
        case logon
        /// `notify:`: the controller sends messages to addresses the inventory chooses, with
        /// secrets read from the controller's files or environment.
        case notify

        /// How it is written in an inventory.
        public var written: String {
            switch self {
            case .localHost: "via: local"
            case .customProfile: "profiles"
            case .sshConfig: "ssh: config"
            case .logon: "logons"
            case .notify: "notify"
            }
        }
    }

    public var kind: Kind
    /// The key as it is written, such as `hosts.CTRL.via`.
    public var key: String
    public var location: SourceLocation?

    public var why: String {
        switch kind {
        case .localHost: "'via: local' runs the host's commands in the controller's own shell"
        case .customProfile: "a profile's templates are commands of the inventory's own, run as they are written"
        case .sshConfig:
            "an ssh_config file can run commands on the controller (ProxyCommand, LocalCommand, Match exec) and is read as the server's user"
        case .logon:
            "a logon's password is read on the controller (a file, an environment variable, a command it runs) and sent to the hosts the inventory names"
        case .notify:
            "notify: makes the controller send messages to addresses the inventory chooses, signed or logged on with secrets read from the controller's files or environment"
        }
    }

    /// As the inventory's other problems are written: `FILE:LINE:COLUMN: error: 'KEY': why`.
    public var description: String {
        "\(location.map { "\($0): " } ?? "")error: '\(key)': \(why)"
    }
}

extension Inventory {
    /// Every key of this inventory that makes the controller run commands of its own choosing,
    /// in the order they are written.
    public var controllerPowers: [ControllerPower] {
        var powers: [ControllerPower] = []
        if ssh.config != nil {
            powers.append(ControllerPower(kind: .sshConfig, key: "ssh.config", location: ssh.configLocation))
        }
        for host in hosts where host.via == .local {
            powers.append(ControllerPower(kind: .localHost, key: "hosts.\(host.host).via", location: host.location))
        }
        for profile in profiles {
            powers.append(
                ControllerPower(kind: .customProfile, key: "profiles.\(profile.name)", location: profile.location))
        }
        for logon in logons {
            powers.append(ControllerPower(kind: .logon, key: "logons.\(logon.name)", location: logon.location))
        }
        if !notify.isEmpty {
            powers.append(ControllerPower(kind: .notify, key: "notify", location: notifyLocation))
        }
        let place = { (power: ControllerPower) in (power.location?.line ?? 0, power.location?.column ?? 0) }
        return powers.sorted { place($0) < place($1) }
    }
}

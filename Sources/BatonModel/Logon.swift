/// An account whose logon carries network credentials, and where its password comes from: an
/// entry of the inventory's `logons:` section (an addition to the inventory format). On
/// Windows OpenSSH a key logon has no network credentials (rule `windows-network-logon`), so
/// Exchange servers and domain controllers are logged on to with a password, which Baton
/// reads on the controller when a run starts and never writes anywhere.
public struct LogonSpec: Sendable, Hashable {
    /// Where the password is read, on the controller. Never the password itself: an
    /// inventory holds no secret.
    public enum PasswordSource: Sendable, Hashable, CustomStringConvertible {
        /// `password-file`: a file only its owner can read (as ssh requires of a key).
        case file(String)
        /// `password-env`: an environment variable of the Baton process, by name.
        case environment(String)
        /// `password-command`: a command, run by `/bin/sh -c`, that prints the password (as
        /// `pass show exchange/baton`), within 30 seconds.
        case command(String)

        /// The inventory key it is written with.
        public var key: String {
            switch self {
            case .file: "password-file"
            case .environment: "password-env"
            case .command: "password-command"
            }
        }

        /// For messages: the key and what it names, never what it reads.
        public var description: String {
            switch self {
            case .file(let path): "password-file \(path)"
            case .environment(let name): "password-env \(name)"
            case .command(let command): "password-command '\(command.prefix(80))'"
            }
        }
    }

    public var name: String
    /// The account, as Windows takes it: `CORP\baton` or `baton@corp.example` (a domain
    /// account: a local one has no network credentials either).
    public var user: String
    public var password: PasswordSource
    public var location: SourceLocation

    public init(name: String, user: String, password: PasswordSource, location: SourceLocation) {
        self.name = name
        self.user = user
        self.password = password
        self.location = location
    }
}

extension Inventory {
    /// The logon Baton uses for `access`: the host's own, else its profile's, else the `ssh:`
    /// section's; nil for a key (or agent) logon, and always for `via: local`.
    public func logon(for access: HostAccess) -> LogonSpec? {
        guard access.via == .ssh else { return nil }
        let profile = profiles.first { $0.name.lowercased() == access.profile?.lowercased() }
        guard let name = access.logon ?? profile?.logon ?? ssh.logon else { return nil }
        return logons.first { $0.name.lowercased() == name.lowercased() }
    }
}

extension InventoryReader {
    static let logonKeys = ["user", "password-file", "password-env", "password-command"]
    /// Sources of a password, as an inventory writes them.
    static let passwordKeys = ["password-file", "password-env", "password-command"]

    /// `logons:`: name → the account and exactly one place its password is read from. The
    /// password itself is never in the inventory.
    /// Returns the logons that can be used and the names of all (an unusable one's name is
    /// still known: hosts naming it get no second error).
    mutating func readLogons(_ node: YAMLNode) -> (logons: [LogonSpec], names: Set<String>) {
        guard case .mapping(let mapping) = node else {
            fields.fail(node, "logons must be a mapping from a logon's name to its account and password source")
            return ([], [])
        }
        var logons: [LogonSpec] = []
        var names = Set<String>()
        for (keyNode, value) in mapping.pairs {
            guard let name = fields.name(keyNode, "a logon name") else { continue }
            guard names.insert(name.lowercased()).inserted else {
                fields.fail(keyNode, "logon '\(name)' is listed twice")
                continue
            }
            if case .mapping(let raw) = value, let written = raw["password"] {
                fields.fail(
                    written,
                    "logon \(name): a password is never written in the inventory; use password-file, password-env or password-command"
                )
                continue
            }
            guard let map = fields.mapping(value, "logon \(name)", allowed: Self.logonKeys) else { continue }
            let user = map["user"].flatMap { fields.string($0, "user") }
            if map["user"] == nil {
                fields.fail(value, "logon \(name) needs 'user': the domain account the password is for (CORP\\baton)")
            }
            var sources: [LogonSpec.PasswordSource] = []
            if let node = map["password-file"], let path = fields.string(node, "password-file") {
                sources.append(.file(path))
            }
            if let node = map["password-env"], let variable = fields.string(node, "password-env") {
                if variable.unicodeScalars.allSatisfy({ $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) }),
                    !(variable.first?.isNumber ?? true)
                {
                    sources.append(.environment(variable))
                } else {
                    fields.fail(node, "password-env names an environment variable: letters, digits and '_'")
                }
            }
            if let node = map["password-command"], let command = fields.string(node, "password-command") {
                sources.append(.command(command))
            }
            let given = Self.passwordKeys.filter { map[$0] != nil }
            if given.count != 1 {
                fields.fail(
                    value,
                    "logon \(name) needs exactly one of password-file, password-env or password-command (found \(given.isEmpty ? "none" : given.joined(separator: ", "))); never the password itself"
                )
                continue
            }
            guard let user, let source = sources.first else { continue }
            logons.append(LogonSpec(name: name, user: user, password: source, location: fields.location(keyNode)))
        }
        return (logons, names)
    }

    /// Every logon a host, a profile or `ssh:` names is in `logons:`, and a host that names a
    /// user names the logon's own.
    mutating func checkLogonsNamed(
        _ hosts: [HostAccess], _ profiles: [CommandProfileSpec], _ ssh: (name: String?, node: YAMLNode?),
        _ logons: (logons: [LogonSpec], names: Set<String>)
    ) {
        func known(_ name: String) -> Bool { logons.names.contains(name.lowercased()) }
        func unknown(_ what: String, _ name: String) -> String {
            "\(what) names logon '\(name)', which is not in logons:"
                + (logons.names.isEmpty ? "" : " (\(logons.names.sorted().joined(separator: ", ")))")
        }
        for host in hosts {
            guard let name = host.logon else { continue }
            guard known(name) else {
                fields.fail(host.location, unknown("host \(host.host)", name))
                continue
            }
            guard let logon = logons.logons.first(where: { $0.name.lowercased() == name.lowercased() }) else { continue }
            if let user = host.user, user.lowercased() != logon.user.lowercased() {
                fields.fail(
                    host.location,
                    "host \(host.host) names user '\(user)' but logs on as logon \(logon.name)'s '\(logon.user)': give one")
            }
        }
        for profile in profiles {
            if let name = profile.logon, !known(name) { fields.fail(profile.location, unknown("profile \(profile.name)", name)) }
        }
        if let name = ssh.name, let node = ssh.node, !known(name) { fields.fail(node, unknown("ssh", name)) }
    }
}

import BatonModel
import BatonPlan
import Foundation

/// Turns a plan step into the command a host runs: a template per action with `{{name}}`
/// placeholders filled from the step, and for Windows the template's PowerShell wrapped so
/// that OpenSSH's default shell (cmd.exe) passes it unharmed.
public struct CommandProfile: Sendable {
    public let name: String
    public let kind: CommandProfileSpec.Kind
    public let commands: [String: String]
    public let checks: [String: String]
    public let restartTimeout: Int
    /// How each check of a state that settles is waited on: Baton's defaults, replaced by the
    /// profile's `settle:`.
    public let settle: [String: SettleSpec]

    /// The profile of an inventory's `profiles:` entry, or Baton's built-in Windows one
    /// (whose commands an entry of kind windows-failover-cluster may override one by one).
    public init(_ spec: CommandProfileSpec?, default builtIn: CommandProfileSpec.Kind = .windowsFailoverCluster) {
        name = spec?.name ?? builtIn.rawValue
        kind = spec?.kind ?? builtIn
        restartTimeout = spec?.restartTimeout ?? 900
        settle = SettleSpec.defaults.merging(spec?.settle ?? [:]) { $1 }
        switch kind {
        case .shell:
            commands = spec?.commands ?? [:]
            checks = spec?.checks ?? [:]
        case .windowsFailoverCluster:
            commands = WindowsFailoverCluster.commands.merging(spec?.commands ?? [:]) { $1 }
            checks = WindowsFailoverCluster.checks.merging(spec?.checks ?? [:]) { $1 }
        case .exchangePowerShell:
            // Quiescing, the installer check, restarts and the probe are Windows's own.
            let shared = WindowsFailoverCluster.commands.filter {
                ["check-installers", "restore-services", "restart", "probe"].contains($0.key)
            }
            commands = shared.merging(ExchangePowerShell.commands) { $1 }.merging(ExchangePowerShell.probes) { $1 }
                .merging(spec?.commands ?? [:]) { $1 }
            checks = ExchangePowerShell.checks.merging(spec?.checks ?? [:]) { $1 }
        }
    }

    /// The values a step gives its templates. Windows calls the cluster's own group
    /// "Cluster Group".
    public func values(for step: Step, run: RunID, address: String) -> [String: String] {
        var values = [
            "host": step.host?.spelling ?? "", "address": address, "step": step.id.rawValue, "run": run.rawValue,
        ]
        values["group"] = step.group.map {
            $0 == clusterGroupName && kind == .windowsFailoverCluster ? "Cluster Group" : $0.spelling
        }
        values["to"] = step.to?.spelling
        values["pool"] = step.pool
        values["package"] = step.package?.spelling
        values["component"] = step.component?.rawValue
        values["build"] = step.expect
        values["what"] = step.what?.map(\.rawValue).joined(separator: ",") ?? step.replication?.rawValue
        values["keep"] = step.keep?.map(\.rawValue).joined(separator: ",")
        values["when"] = step.when?.rawValue
        values["dag"] = step.dag?.spelling
        values["domains"] = step.domains?.joined(separator: ",")
        values["files"] = step.files?.joined(separator: ",")
        values["override"] = step.overrideTwoCopies == true ? "true" : "false"
        values["dotnet"] = step.dotnet?.rawValue
        values["dotnet-release"] = step.dotnet.map { String($0.release) }
        values["edge"] = step.edge?.spelling
        return values
    }

    /// The command for `name` (an action, `restart` or `probe`), or nil when the profile has
    /// none. Throws when a value would need quoting: Baton only fills in names, ids and builds.
    public func command(_ name: String, _ values: [String: String]) throws(ProfileError) -> String? {
        try commands[name].map { template throws(ProfileError) in try wrap(render(template, values)) }
    }

    /// The check that says whether `action` already took effect, when the profile has one.
    public func check(_ action: String, _ values: [String: String]) throws(ProfileError) -> String? {
        try checks[action].map { template throws(ProfileError) in try wrap(render(template, values)) }
    }

    func render(_ template: String, _ values: [String: String]) throws(ProfileError) -> String {
        var text = template
        for placeholder in CommandProfileSpec.placeholders(in: template) {
            let value = values[placeholder] ?? ""
            guard Self.isPlain(value, for: placeholder) else {
                throw .notPlain(placeholder: placeholder, value: value)
            }
            text = text.replacingOccurrences(of: "{{\(placeholder)}}", with: value)
                .replacingOccurrences(of: "{{ \(placeholder) }}", with: value)
        }
        return text
    }

    /// Whether a value can stand in a command as one word, unquoted: ASCII letters, digits,
    /// `.`, `_` and `-`, not starting with `-` (it would read as an option); an address may
    /// also have `:`, `[` and `]` (IPv6), a list (`what`, `keep`) `,`. The Windows profile's
    /// own `Cluster Group` is the one value with a space.
    static func isPlain(_ value: String, for placeholder: String) -> Bool {
        if placeholder == "group", value == "Cluster Group" { return true }
        guard !value.hasPrefix("-") else { return false }
        let extra: Set<Unicode.Scalar> =
            switch placeholder {
            case "address": [":", "[", "]"]
            case "backup-target", "prerequisites", "health-checker": ["\\", ":"]
            case "settings": ["+", "/", "="]
            case "services": [",", "*"]
            case "setup-switches": ["/"]
            case "what", "keep", "domains", "files", "runtimes": [","]
            default: []
            }
        return value.unicodeScalars.allSatisfy { $0.isNameCharacter || extra.contains($0) }
    }

    func wrap(_ script: String) -> String {
        switch kind {
        case .shell: script
        case .windowsFailoverCluster, .exchangePowerShell: WindowsFailoverCluster.encoded(script)
        }
    }
}

/// Why a command cannot be rendered.
public enum ProfileError: Error, Sendable, CustomStringConvertible {
    /// A value that cannot stand in a command as one plain word.
    case notPlain(placeholder: String, value: String)

    public var description: String {
        switch self {
        case .notPlain(let placeholder, let value):
            "the value of {{\(placeholder)}}, '\(value.prefix(80))', is not a plain name, id, address or build; not running it"
        }
    }
}

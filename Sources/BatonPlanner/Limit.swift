import BatonKnowledge
import BatonModel

/// A canary's scope (`--limit`, rule `canary`): DAGs, sites (`site:NAME`), roles (`role:edge`)
/// or servers, comma-separated, compared without regard to case. The plan updates only the
/// servers they name and leaves the rest for a later run.
public struct Limit: Sendable, Hashable {
    /// The terms as given, for the plan and its messages.
    public let terms: [String]
    /// The servers the terms name.
    public let servers: Set<HostName>

    /// At most this many terms: a scope is a handful of names.
    public static let maximumTerms = 64

    /// Why a `--limit` names nothing: every unknown term, each with its nearest name.
    public struct Problems: Error, Sendable, CustomStringConvertible {
        public let messages: [String]
        public var description: String { messages.joined(separator: "\n") }
    }

    /// Resolves `text` against `inventory`; every term that names nothing is a problem.
    public init(_ text: String, in inventory: Inventory) throws(Problems) {
        let terms = text.split(separator: ",").map { $0.trimmed }.filter { !$0.isEmpty }
        guard !terms.isEmpty else {
            throw Problems(messages: ["--limit: give at least one DAG, site:NAME, role:ROLE or server"])
        }
        guard terms.count <= Self.maximumTerms else {
            throw Problems(messages: ["--limit: at most \(Self.maximumTerms) names, not \(terms.count)"])
        }
        var servers = Set<HostName>()
        var problems: [String] = []
        let file = inventory.file
        for term in terms {
            let lowered = term.lowercased()
            if lowered.hasPrefix("site:") {
                let name = String(term.dropFirst(5))
                let sites = inventory.sites.map(\.name)
                guard let site = sites.first(where: { $0.lowercased() == name.lowercased() }) else {
                    problems.append(
                        "--limit \(term): \(file) has no site '\(name)'"
                            + Spelling.didYouMean(name, among: sites))
                    continue
                }
                servers.formUnion(inventory.servers.filter { $0.site == site }.map(\.name))
            } else if lowered.hasPrefix("role:") {
                let name = String(lowered.dropFirst(5))
                let roles = Role.allCases.map(\.rawValue)
                guard let role = Role(rawValue: name) else {
                    problems.append(
                        "--limit \(term): no role '\(name)'; roles are \(roles.joined(separator: ", "))"
                            + Spelling.didYouMean(name, among: roles))
                    continue
                }
                servers.formUnion(inventory.servers.filter { $0.role == role }.map(\.name))
            } else if let dag = inventory.dags.first(where: { $0.name == HostName(term) }) {
                servers.formUnion(dag.members)
            } else if let server = inventory.servers.first(where: { $0.name == HostName(term) }) {
                servers.insert(server.name)
            } else {
                // The nearest of a bounded number of names: a typo costs little, whatever the size.
                let names = (inventory.dags.map(\.name.spelling) + inventory.servers.map(\.name.spelling)).prefix(5000)
                problems.append(
                    "--limit \(term): \(file) has no DAG or server '\(term)' (a site is site:NAME, a role role:ROLE)"
                        + Spelling.didYouMean(term, among: Array(names)))
            }
        }
        guard problems.isEmpty else { throw Problems(messages: problems) }
        self.terms = terms
        self.servers = servers
    }

    public var description: String { terms.joined(separator: ",") }
}

extension Substring {
    fileprivate var trimmed: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

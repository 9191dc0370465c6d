import ArgumentParser
import BatonKnowledge
import BatonModel

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract:
            "Lists the rules Baton carries (KB 328839's, and Exchange 2013 and later's), with where each comes from, or explains one."
    )

    @Argument(help: "A rule id, for example e2003-node-empty.", completion: Completions.rules)
    var id: String?

    @Option(help: "text or json.")
    var format: RunExecutionFormat = .text

    static func json(_ rule: Rule) -> JSONValue {
        .object([
            "id": .text(rule.id.rawValue), "kind": .text(rule.kind.rawValue), "source": .text(rule.source.rawValue),
            "section": .text(rule.section), "text": .text(rule.text),
        ])
    }

    func run() throws {
        if id == nil, format == .json {
            Terminal.out(JSONValue.pretty(.list(Rule.catalogue.map(Self.json))))
            return
        }
        guard let id else {
            for rule in Rule.catalogue {
                Terminal.out(
                    "\(rule.id.rawValue.padded(32)) \(rule.kind.rawValue.padded(9)) \(rule.source.rawValue.padded(18)) \(rule.firstSentence)\n"
                )
            }
            return
        }
        guard let rule = Rule.named(Rule.ID(rawValue: id.lowercased())) else {
            let ids = Rule.catalogue.map(\.id.rawValue)
            let guess =
                Spelling.closest(to: id, among: ids) ?? ids.first { $0.contains(id.lowercased()) }
            Terminal.error(
                "error: no rule '\(id)'" + (guess.map { "; did you mean '\($0)'?" } ?? "; 'baton rules' lists them"))
            throw ExitCode(ExitStatus.badInput)
        }
        if format == .json {
            Terminal.out(JSONValue.pretty(Self.json(rule)))
            return
        }
        Terminal.out(
            """
            \(rule.id) (\(rule.kind.rawValue), \(rule.source.rawValue))
            From: \(rule.section)

            \(rule.text)

            """)
    }
}

extension Rule {
    var firstSentence: String {
        let end = text.range(of: ". ").map { text[..<$0.lowerBound] + "." } ?? Substring(text)
        return String(end)
    }
}

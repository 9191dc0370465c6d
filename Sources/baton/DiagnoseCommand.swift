import ArgumentParser
import BatonKnowledge
import Foundation

/// `baton diagnose`: recognises KB 328839's known failures in installer and hotfix logs,
/// event log exports (text or CSV) or pasted error text, and says the rule, cause and remedy.
struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Recognises known failures in logs or error text and prints the rule, cause and remedy.",
        discussion: "Exit code 1 when a known failure is found, 0 when none is, 2 when a file cannot be read.")

    @Argument(help: "Files to read; '-' or none reads standard input.")
    var files: [String] = []

    @Flag(help: "Print findings as JSON.")
    var json = false

    func run() throws {
        var inputs: [(name: String, text: String)] = []
        var unreadable = false
        for file in files.isEmpty ? ["-"] : files {
            if file == "-" {
                inputs.append(
                    ("<stdin>", String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)))
            } else if let data = FileManager.default.contents(atPath: file) {
                inputs.append((file, Self.decode(data)))
            } else {
                Terminal.error("\(file):1:1: error: cannot read the file")
                unreadable = true
            }
        }
        var all: [(String, Diagnosis.Finding)] = []
        for input in inputs {
            for finding in Diagnosis.findings(in: input.text) { all.append((input.name, finding)) }
        }
        if json {
            let objects = all.map { name, finding in
                [
                    "file": name, "line": "\(finding.line)", "rule": finding.rule.rawValue, "title": finding.title,
                    "cause": finding.cause, "remedy": finding.remedy, "excerpt": finding.excerpt,
                ]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            Terminal.out(String(decoding: try encoder.encode(objects), as: UTF8.self) + "\n")
        } else if all.isEmpty, !inputs.isEmpty {
            Terminal.out("No known failure recognised.\n")
        } else {
            for (name, finding) in all {
                Terminal.out(
                    """
                    \(name):\(finding.line): \(finding.rule): \(finding.title)
                        found:  \(finding.excerpt)
                        cause:  \(finding.cause)
                        remedy: \(finding.remedy)

                    """)
            }
        }
        if unreadable { throw ExitCode(ExitStatus.badInput) }
        if !all.isEmpty { throw ExitCode(ExitStatus.failed) }
    }

    /// Event log exports are often UTF-16 (with a byte-order mark); logs are UTF-8 or Latin-1.
    static func decode(_ data: Data) -> String {
        if data.starts(with: [0xFF, 0xFE]) || data.starts(with: [0xFE, 0xFF]),
            let text = String(data: data, encoding: .utf16)
        {
            return text
        }
        return String(data: data, encoding: .utf8) ?? String(decoding: data, as: UTF8.self)
    }
}

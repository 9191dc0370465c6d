import ArgumentParser
import BatonKnowledge
import BatonLab
import BatonModel
import BatonStore
import Foundation

/// What the shells' completion offers where Baton's words go: package ids, fault kinds, rule
/// ids, and the runs and twins of the state directory given on the line (`--state`, or
/// `.baton`). `baton --generate-completion-script bash|zsh|fish` writes the script.
enum Completions {
    static let packages = CompletionKind.list(PackageCatalogue.builtIn.map(\.id.spelling))
    static let faultKinds = CompletionKind.list(LabFault.Kind.allCases.map(\.rawValue))
    static let rules = CompletionKind.list(Rule.catalogue.map(\.id.rawValue))

    /// The runs kept in the state directory's SQLite journal (no journal there, no runs).
    static let runs = CompletionKind.custom { words, _, _ in
        let journal = stateDirectory(in: words) + "/journal.sqlite"
        guard FileManager.default.isReadableFile(atPath: journal) else { return [] }
        return (try? SQLiteJournal(readingOnly: journal).runs().map(\.id.rawValue)) ?? []
    }

    /// The twins kept in the state directory: `lab.json` is the default, `lab-NAME.json` NAME.
    static let twins = CompletionKind.custom { words, _, _ in
        let files = (try? FileManager.default.contentsOfDirectory(atPath: stateDirectory(in: words))) ?? []
        return files.compactMap { name in
            if name == "lab.json" { return TwinName.standard.rawValue }
            guard name.hasPrefix("lab-"), name.hasSuffix(".json") else { return nil }
            return String(name.dropFirst(4).dropLast(5))
        }.sorted()
    }

    /// The `--state` given on the command line being completed, or Baton's default.
    static func stateDirectory(in words: [String]) -> String {
        if let index = words.firstIndex(of: "--state"), index + 1 < words.count { return words[index + 1] }
        if let word = words.first(where: { $0.hasPrefix("--state=") }) { return String(word.dropFirst(8)) }
        return ".baton"
    }
}

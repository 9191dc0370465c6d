import Foundation

/// Reads YAML nodes into typed values while collecting every problem with its location,
/// so that one pass over an inventory reports all of them (Baton's exit codes).
struct YAMLFields {
    let file: String
    private(set) var errors: [InventoryError] = []

    init(file: String) {
        self.file = file
    }

    func location(_ node: YAMLNode) -> SourceLocation { node.location(in: file) }

    mutating func fail(_ node: YAMLNode, _ message: String) {
        errors.append(InventoryError(location(node), message))
    }

    mutating func fail(_ location: SourceLocation, _ message: String) {
        errors.append(InventoryError(location, message))
    }

    /// The keys of a mapping, checked against what the format allows. Unknown keys are
    /// errors, never ignored: a typo must not silently change a rollout.
    mutating func mapping(_ node: YAMLNode, _ what: String, allowed: [String]) -> Mapping? {
        guard case .mapping(let mapping) = node else {
            fail(node, "\(what) must be a mapping (key: value lines), found \(describe(node))")
            return nil
        }
        var entries: [Mapping.Entry] = []
        entries.reserveCapacity(mapping.pairs.count)
        for (keyNode, value) in mapping.pairs {
            guard case .scalar(let scalar) = keyNode else {
                fail(keyNode, "keys in \(what) must be plain words, found \(describe(keyNode))")
                continue
            }
            let key = scalar.string
            guard allowed.contains(key) else {
                var message = "unknown key '\(key)' in \(what)"
                if let guess = Spelling.closest(to: key, among: allowed) {
                    message += "; did you mean '\(guess)'?"
                } else {
                    message += "; allowed: \(allowed.joined(separator: ", "))"
                }
                fail(keyNode, message)
                continue
            }
            entries.append(Mapping.Entry(name: key, key: keyNode, value: value))
        }
        return Mapping(node: node, entries: entries)
    }

    /// A scalar's text; nil (with an error) for a list, a mapping or an empty value.
    mutating func string(_ node: YAMLNode, _ what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            fail(node, "\(what) must be a single value, found \(describe(node))")
            return nil
        }
        let text = Self.trimmed(scalar.string)
        guard !Self.isNull(scalar), !text.isEmpty else {
            fail(node, "\(what) needs a value")
            return nil
        }
        return text
    }

    /// A machine's, node's, virtual server's or cluster's name (`name`'s rules).
    mutating func hostName(_ node: YAMLNode, _ what: String) -> HostName? {
        name(node, what).map { HostName($0) }
    }

    /// A host, cluster or virtual-server name: what Windows and DNS accept, so it can be
    /// used on a command line and in a report without quoting surprises.
    mutating func name(_ node: YAMLNode, _ what: String) -> String? {
        guard let text = string(node, what) else { return nil }
        guard text.unicodeScalars.allSatisfy(\.isNameCharacter), text.count <= 255 else {
            fail(
                node,
                "\(what) '\(text.prefix(40))' is not a valid name: use letters, digits, '-', '_' and '.' (at most 255)")
            return nil
        }
        return text
    }

    mutating func choice<Value: RawRepresentable & CaseIterable>(
        _ node: YAMLNode, _ what: String, among values: [Value]? = nil
    ) -> Value? where Value.RawValue == String {
        guard let text = string(node, what) else { return nil }
        let candidates = values ?? Array(Value.allCases)
        if let value = candidates.first(where: { $0.rawValue == text.lowercased() }) {
            return value
        }
        fail(node, "\(what) '\(text)' is not one of: \(candidates.map(\.rawValue).joined(separator: ", "))")
        return nil
    }

    /// YAML's plain null spellings.
    static func isNull(_ scalar: YAMLNode.Scalar) -> Bool {
        scalar.isPlain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    static func trimmed(_ text: String) -> String {
        guard let first = text.first, let last = text.last, first == " " || first == "\t" || last == " " || last == "\t"
        else {
            return text
        }
        return text.trimmingCharacters(in: .whitespaces)
    }

    mutating func bool(_ node: YAMLNode, _ what: String) -> Bool? {
        if case .scalar(let scalar) = node {
            switch scalar.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        fail(node, "\(what) must be true or false, found \(describe(node))")
        return nil
    }

    mutating func integer(_ node: YAMLNode, _ what: String, in range: ClosedRange<Int>) -> Int? {
        if case .scalar(let scalar) = node, let value = Int(scalar.string), range.contains(value) { return value }
        fail(
            node,
            "\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound), found \(describe(node))")
        return nil
    }

    /// A list; a single value where a list is expected is an error rather than a guess.
    mutating func list(_ node: YAMLNode, _ what: String) -> [YAMLNode]? {
        guard case .sequence(let sequence) = node else {
            fail(node, "\(what) must be a list, found \(describe(node))")
            return nil
        }
        return sequence.items
    }

    func describe(_ node: YAMLNode) -> String {
        switch node {
        case .scalar(let scalar):
            let text = scalar.string
            return text.isEmpty ? "an empty value" : "'\(text.count > 40 ? text.prefix(40) + "…" : Substring(text))'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }
}

/// A mapping's known keys, in the order written, each with its key node (for locating) and
/// value. Keys are unique (`YAMLComposer`) and few (`allowed`), so a lookup is a short scan.
struct Mapping {
    struct Entry {
        let name: String
        let key: YAMLNode
        let value: YAMLNode
    }

    let node: YAMLNode
    let entries: [Entry]

    subscript(key: String) -> YAMLNode? { entries.first { $0.name == key }?.value }

    /// Where `key` is written, for an error about the key itself.
    func keyNode(_ key: String) -> YAMLNode? { entries.first { $0.name == key }?.key }
}

/// Suggests the nearest allowed word for a typo ("prodcut" → "product", "plna" → "plan"):
/// inventory keys, commands, package ids, fault kinds, rule ids, runs and twins.
public enum Spelling {
    /// The candidate nearest `word` by edit distance (case ignored), if near enough to be
    /// the word meant: at most two edits, or a third of the word's length.
    public static func closest(to word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, word.count / 3) else { return nil }
        return best.0
    }

    /// "; did you mean 'plan'?" when a candidate is near `word`, else nothing.
    public static func didYouMean(_ word: String, among candidates: [String]) -> String {
        closest(to: word, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// Levenshtein distance; inputs are short keys.
    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.prefix(64)), b = Array(b.prefix(64))
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

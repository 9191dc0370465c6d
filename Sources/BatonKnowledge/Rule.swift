/// One instruction of Microsoft KB 328839, restated with a stable id so a
/// plan step can say which rules put it there.
public struct Rule: Sendable, Hashable, Identifiable {
    /// A rule's stable id, for example `e2003-node-empty`. Code names rules only by the
    /// catalogue's constants (`.e2003NodeEmpty`); `init(rawValue:)` is for reading ids back
    /// (a stored plan, `baton rules ID`), and `Rule.named` says whether one exists.
    public struct ID: RawRepresentable, Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        public static func < (lhs: ID, rhs: ID) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// What Baton does with a rule.
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        /// Puts a step in the plan.
        case step
        /// Orders steps.
        case order
        /// Checked before or after an action.
        case check
        /// An operator must confirm.
        case gate
        /// Recognised in logs, with a remedy.
        case diagnosis
        /// Makes Baton refuse a request.
        case refusal
        /// Known and reported; no step of its own.
        case fact
    }

    /// Where a rule comes from: KB 328839 itself, Microsoft's other documentation and scripts,
    /// administrators' common practice (Baton's default, which an inventory may change), or
    /// Baton's own judgement where the sources are silent.
    public enum Source: String, Sendable, Hashable, CaseIterable, Codable {
        case kb328839 = "KB 328839"
        case microsoft = "Microsoft"
        case community = "community practice"
        case baton = "Baton"
    }

    public var id: ID
    public var kind: Kind
    public var source: Source
    /// The rule for a person, in the words of KB 328839.
    public var text: String
    /// KB 328839's section it comes from; "Baton" for what KB 328839 leaves to judgement.
    public var section: String

    public init(_ id: ID, _ kind: Kind, section: String, _ text: String) {
        self.init(id, kind, source: section == Rule.baton ? .baton : .kb328839, section: section, text)
    }

    public init(_ id: ID, _ kind: Kind, source: Source, section: String, _ text: String) {
        self.id = id
        self.kind = kind
        self.source = source
        self.section = section
        self.text = text
    }
}

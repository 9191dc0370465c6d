import CYaml

/// A YAML value as Baton's files are read: text, a list or a mapping, each with where it
/// starts in the file. Aliases stand for the value they name.
public enum YAMLNode: Sendable {
    case scalar(Scalar)
    case sequence(Sequence)
    case mapping(Mapping)

    public struct Mark: Sendable {
        public var line: Int32
        public var column: Int32
    }

    public struct Scalar: Sendable {
        public var string: String
        /// Written without quotes or a block indicator (`null` is null only then).
        public var isPlain: Bool
        public var mark: Mark
    }

    public struct Sequence: Sendable {
        public var items: [YAMLNode]
        public var mark: Mark
    }

    public struct Mapping: Sendable {
        public var pairs: [(key: YAMLNode, value: YAMLNode)]
        public var mark: Mark

        /// The value of the plain key `key`.
        public subscript(key: String) -> YAMLNode? { pairs.first { $0.key.string == key }?.value }
    }

    /// The document of `text`, or nil when it holds none, within `YAMLBudget`; the first
    /// problem, located in `file`.
    public static func read(_ text: String, file: String) throws(InventoryError) -> YAMLNode? {
        try YAMLComposer.compose(text, file: file)
    }

    /// Where this value starts in `file`.
    public func location(in file: String) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line), column: Int(mark.column))
    }

    public var mark: Mark {
        switch self {
        case .scalar(let scalar): scalar.mark
        case .sequence(let sequence): sequence.mark
        case .mapping(let mapping): mapping.mark
        }
    }

    /// The text of a scalar; nil for a list or a mapping.
    public var string: String? {
        if case .scalar(let scalar) = self { return scalar.string }
        return nil
    }
}

/// Builds the `YAMLNode` of an inventory from libyaml's events in one pass, which also keeps
/// the text within `YAMLBudget` (plain keys, bounded nesting and aliases) and refuses a key
/// given twice in one mapping. Errors are reported in the order a reader meets them: a text
/// over budget before anything after it, a syntax error as libyaml words it.
enum YAMLComposer {
    /// The document of `text`, or nil when it holds none; the first problem, located.
    static func compose(
        _ text: String, file: String, threadAbove: Int = YAMLEvents.threadAbove, batch: Int = YAMLEvents.batchSize
    ) throws(InventoryError) -> YAMLNode? {
        var builder = Builder(file: file)
        let end = try YAMLEvents.read(text, file: file, threadAbove: threadAbove, batch: batch) {
            (event) throws(InventoryError) in
            try builder.take(event)
        }
        if let refused = builder.refused { throw refused }
        if case .failed(let error) = end { throw error }
        return builder.root
    }

    /// libyaml's own words for what it could not read, where it stopped.
    static func syntaxError(_ parser: yaml_parser_t, text: String, file: String) -> InventoryError {
        let problem = parser.problem.map { String(cString: $0) } ?? "cannot be read"
        if parser.error == YAML_READER_ERROR {
            return InventoryError(
                InventoryLoader.locationOf(utf8Offset: parser.problem_offset, in: text, file: file),
                "cannot read the inventory: \(problem)")
        }
        var message = "YAML syntax: \(problem)"
        if let context = parser.context {
            message +=
                " (\(String(cString: context)) at line \(parser.context_mark.line + 1), column \(parser.context_mark.column + 1))"
        }
        return InventoryError(SourceLocation(file: file, parser.problem_mark), message)
    }

    /// A list or mapping being read: its items so far.
    struct Frame {
        var isMapping: Bool
        var mark: YAMLNode.Mark
        var anchor: String?
        var items: [YAMLNode] = []
    }

    struct Builder {
        let file: String
        var budget: YAMLBudget.Walk
        var stack: [Frame] = []
        var anchors: [String: YAMLNode] = [:]
        var root: YAMLNode?
        var documents = 0
        /// The first thing the tree cannot be built past: a key given twice in one mapping, an
        /// alias to no anchor, a second document. The rest of the text is still walked, since
        /// anything over budget is reported first, wherever it is (up to where libyaml stops).
        var refused: InventoryError?

        init(file: String) {
            self.file = file
            budget = YAMLBudget.Walk(file: file)
        }

        func location(_ mark: yaml_mark_t) -> SourceLocation { SourceLocation(file: file, mark) }

        mutating func take(_ event: yaml_event_t) throws(InventoryError) {
            if let problem = budget.take(event) { throw problem }
            guard refused == nil else { return }
            let mark = YAMLNode.Mark(
                line: Int32(truncatingIfNeeded: event.start_mark.line + 1),
                column: Int32(truncatingIfNeeded: event.start_mark.column + 1))
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    refused = InventoryError(
                        location(event.start_mark),
                        "YAML syntax: but found another document (expected a single document in the stream at line 1, column 1)"
                    )
                }
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let string = String(
                    decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                let node = YAMLNode.scalar(
                    .init(string: string, isPlain: scalar.style == YAML_PLAIN_SCALAR_STYLE, mark: mark))
                finish(node, anchor: YAMLBudget.Walk.string(scalar.anchor))
            case YAML_ALIAS_EVENT:
                let name = YAMLBudget.Walk.string(event.data.alias.anchor) ?? ""
                guard let node = anchors[name] else {
                    refused = InventoryError(location(event.start_mark), "YAML syntax: found undefined alias")
                    return
                }
                finish(node, anchor: nil)
            case YAML_SEQUENCE_START_EVENT:
                stack.append(
                    Frame(
                        isMapping: false, mark: mark, anchor: YAMLBudget.Walk.string(event.data.sequence_start.anchor)))
            case YAML_MAPPING_START_EVENT:
                stack.append(
                    Frame(isMapping: true, mark: mark, anchor: YAMLBudget.Walk.string(event.data.mapping_start.anchor)))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { return }
                let node: YAMLNode
                if frame.isMapping {
                    var pairs: [(key: YAMLNode, value: YAMLNode)] = []
                    pairs.reserveCapacity(frame.items.count / 2)
                    var index = frame.items.startIndex
                    while index + 1 < frame.items.endIndex {
                        pairs.append((frame.items[index], frame.items[index + 1]))
                        index += 2
                    }
                    refused = Self.duplicateKey(pairs, file: file)
                    node = .mapping(.init(pairs: pairs, mark: frame.mark))
                } else {
                    node = .sequence(.init(items: frame.items, mark: frame.mark))
                }
                finish(node, anchor: frame.anchor)
            default:
                break
            }
        }

        /// Whether a short mapping gives some key twice, each key compared with those before it:
        /// a server's few keys need no table.
        static func repeatsKey(_ pairs: [(key: YAMLNode, value: YAMLNode)]) -> Bool {
            for index in pairs.indices {
                guard case .scalar(let key) = pairs[index].key else { continue }
                for earlier in pairs[..<index] where earlier.key.string == key.string { return true }
            }
            return false
        }

        mutating func finish(_ node: YAMLNode, anchor: String?) {
            if let anchor { anchors[anchor] = node }
            if stack.isEmpty {
                root = node
            } else {
                stack[stack.count - 1].items.append(node)
            }
        }

        /// The keys given more than once in one mapping (keys are plain text: `YAMLBudget`),
        /// named in order, located where the first of them is first given.
        static func duplicateKey(_ pairs: [(key: YAMLNode, value: YAMLNode)], file: String) -> InventoryError? {
            guard pairs.count > 1, pairs.count > 16 || repeatsKey(pairs) else { return nil }
            var seen: [String: YAMLNode.Mark] = [:]
            var repeated: [String: YAMLNode.Mark] = [:]
            for pair in pairs {
                guard case .scalar(let key) = pair.key else { continue }
                if let first = seen[key.string] {
                    repeated[key.string] = first
                } else {
                    seen[key.string] = key.mark
                }
            }
            guard let first = repeated.keys.min(), let mark = repeated[first] else { return nil }
            let names = repeated.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return InventoryError(
                SourceLocation(file: file, line: Int(mark.line), column: Int(mark.column)),
                "duplicate key \(names) in one mapping: which one is meant?")
        }
    }
}

extension SourceLocation {
    /// Where libyaml's `mark` (counted from 0) is.
    init(file: String, _ mark: yaml_mark_t) {
        self.init(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}

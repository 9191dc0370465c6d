import CYaml

/// Bounds the work any YAML text can cause, on the parser's own event stream, as the tree is
/// built from it (`YAMLComposer`): keys must be plain words (an alias, a list or a mapping
/// as a key would be compared whole to find a key given twice), nesting is at most `maximumDepth` deep, and
/// aliases together may stand for at most `maximumAliasExpansion` nodes, so an alias bomb
/// (`&a [*b, *b, …]` nested) is refused however it is written: block or flow, on one line or
/// many, tagged, or behind an explicit `?`. `Walk` takes the events one at a time.
public enum YAMLBudget {
    public static let maximumDepth = 64
    public static let maximumAliasExpansion = 1_000_000

    struct Frame {
        var isMapping: Bool
        var expectingKey: Bool
        var size: Int
        var anchor: String?
    }

    struct Walk {
        let file: String
        var stack: [Frame] = []
        var anchors: [String: Int] = [:]
        var expanded = 0

        init(file: String) { self.file = file }

        mutating func take(_ event: yaml_event_t) -> InventoryError? {
            let at = SourceLocation(file: file, event.start_mark)
            switch event.type {
            case YAML_SCALAR_EVENT:
                finish(size: 1, anchor: Self.string(event.data.scalar.anchor))
            case YAML_ALIAS_EVENT:
                if let key = complexKey(at, "an alias") { return key }
                let size = anchors[Self.string(event.data.alias.anchor) ?? ""] ?? 1
                expanded = expanded.addingReportingOverflow(size).overflow ? .max : expanded + size
                guard expanded <= maximumAliasExpansion else {
                    return InventoryError(
                        at,
                        "aliases here stand for more than \(maximumAliasExpansion) values in all; an inventory needs far fewer"
                    )
                }
                finish(size: size, anchor: nil)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let mapping = event.type == YAML_MAPPING_START_EVENT
                if let key = complexKey(at, mapping ? "a mapping" : "a list") { return key }
                guard stack.count < maximumDepth else {
                    return InventoryError(at, "nested more than \(maximumDepth) levels deep")
                }
                let anchor =
                    mapping
                    ? Self.string(event.data.mapping_start.anchor) : Self.string(event.data.sequence_start.anchor)
                stack.append(Frame(isMapping: mapping, expectingKey: true, size: 1, anchor: anchor))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                if let frame = stack.popLast() { finish(size: frame.size, anchor: frame.anchor) }
            default:
                break
            }
            return nil
        }

        /// A node that is not a plain scalar where a mapping expects a key.
        func complexKey(_ at: SourceLocation, _ what: String) -> InventoryError? {
            guard let top = stack.last, top.isMapping, top.expectingKey else { return nil }
            return InventoryError(at, "\(what) used as a key is not part of the inventory format: keys are plain words")
        }

        /// A node of `size` values (its own and those it stands for) is complete.
        mutating func finish(size: Int, anchor: String?) {
            if let anchor { anchors[anchor] = size }
            guard !stack.isEmpty else { return }
            let total = stack[stack.count - 1].size.addingReportingOverflow(size)
            stack[stack.count - 1].size = total.overflow ? .max : total.partialValue
            if stack[stack.count - 1].isMapping { stack[stack.count - 1].expectingKey.toggle() }
        }

        static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: $0) }
        }
    }
}

import BatonModel
import Foundation
import Yams

/// Reads faults to inject from a small YAML file:
///
/// ```yaml
/// faults:
///   - {kind: file-in-use, host: NODE1}
///   - {kind: move-fails, group: EVS1}
/// ```
///
/// Every problem is reported with its line and column, as for inventories.
public enum LabFaultFile {
    public static func load(path: String) throws(InventoryErrors) -> [LabFault] {
        let start = SourceLocation(file: path, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw InventoryErrors([InventoryError(start, "cannot read the fault file")])
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(InventoryErrors) -> [LabFault] {
        func at(_ node: Node) -> SourceLocation {
            SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, .basic)
        } catch {
            throw InventoryErrors([InventoryLoader.syntaxError(error, text: text, file: file)])
        }
        guard let root, case .mapping(let top) = root, let list = top["faults"], case .sequence(let items) = list,
            top.count == 1
        else {
            throw InventoryErrors([
                InventoryError(
                    SourceLocation(file: file, line: 1, column: 1), "a fault file has one key, 'faults', holding a list"
                )
            ])
        }
        var faults: [LabFault] = []
        var errors: [InventoryError] = []
        let kinds = LabFault.Kind.allCases.map(\.rawValue).joined(separator: ", ")
        for item in items {
            guard case .mapping(let fields) = item else {
                errors.append(InventoryError(at(item), "a fault is a mapping such as {kind: file-in-use, host: NODE1}"))
                continue
            }
            for (key, _) in fields where !["kind", "host", "group"].contains(key.string ?? "") {
                errors.append(
                    InventoryError(at(key), "unknown key '\(key.string ?? "?")' in a fault; allowed: kind, host, group")
                )
            }
            guard let kindNode = fields["kind"], let kind = LabFault.Kind(rawValue: kindNode.string ?? "") else {
                errors.append(InventoryError(at(fields["kind"] ?? item), "a fault's kind is one of: \(kinds)"))
                continue
            }
            let key = kind.targetsGroup ? "group" : "host"
            guard let target = fields[key]?.string, !target.isEmpty else {
                errors.append(InventoryError(at(item), "fault \(kind.rawValue) needs '\(key)'"))
                continue
            }
            faults.append(LabFault(kind, HostName(target)))
        }
        guard errors.isEmpty else { throw InventoryErrors(errors) }
        return faults
    }
}

import BatonModel
import Foundation

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
    /// A fault file lists a few faults: a larger one is refused before it is parsed.
    public static let maximumSize = 1 << 20

    public static func load(path: String) throws(InventoryErrors) -> [LabFault] {
        let start = SourceLocation(file: path, line: 1, column: 1)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InventoryErrors([InventoryError(start, "cannot read the fault file")])
        }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: maximumSize + 1) ?? Data(),
            let text = String(data: data, encoding: .utf8)
        else {
            throw InventoryErrors([InventoryError(start, "cannot read the fault file as UTF-8 text")])
        }
        guard data.count <= maximumSize else {
            throw InventoryErrors([InventoryError(start, "the fault file is larger than \(maximumSize >> 20) MiB")])
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(InventoryErrors) -> [LabFault] {
        let root: YAMLNode?
        do {
            root = try YAMLNode.read(text, file: file)
        } catch {
            throw InventoryErrors([error])
        }
        guard case .mapping(let top) = root, top.pairs.count == 1, case .sequence(let list) = top["faults"] else {
            throw InventoryErrors([
                InventoryError(
                    SourceLocation(file: file, line: 1, column: 1), "a fault file has one key, 'faults', holding a list"
                )
            ])
        }
        var faults: [LabFault] = []
        var errors: [InventoryError] = []
        let kinds = LabFault.Kind.allCases.map(\.rawValue).joined(separator: ", ")
        for item in list.items {
            guard case .mapping(let fields) = item else {
                errors.append(
                    InventoryError(
                        item.location(in: file), "a fault is a mapping such as {kind: file-in-use, host: NODE1}"))
                continue
            }
            for (key, _) in fields.pairs where !["kind", "host", "group"].contains(key.string ?? "") {
                errors.append(
                    InventoryError(
                        key.location(in: file),
                        "unknown key '\(key.string ?? "?")' in a fault; allowed: kind, host, group"
                    ))
            }
            guard let kindNode = fields["kind"], let kind = LabFault.Kind(rawValue: kindNode.string ?? "") else {
                errors.append(
                    InventoryError((fields["kind"] ?? item).location(in: file), "a fault's kind is one of: \(kinds)"))
                continue
            }
            let key = kind.targetsGroup ? "group" : "host"
            guard let target = fields[key]?.string, !target.isEmpty else {
                errors.append(InventoryError(item.location(in: file), "fault \(kind.rawValue) needs '\(key)'"))
                continue
            }
            faults.append(LabFault(kind, HostName(target)))
        }
        guard errors.isEmpty else { throw InventoryErrors(errors) }
        return faults
    }
}

import Foundation

/// Reads an inventory file (docs/inventory.md) and validates all of it, reporting every problem
/// with its file, line and column. It never traps, whatever the bytes.
public enum InventoryLoader {
    /// Larger files are not inventories; refusing them keeps memory and time bounded.
    public static let maximumSize = 16 << 20

    /// Reads and validates the file at `path`.
    /// - Parameter reservedPackageIDs: the built-in catalogue's ids, which custom packages
    ///   must not reuse.
    public static func load(path: String, reservedPackageIDs: Set<PackageID> = []) throws(InventoryErrors) -> Inventory {
        try parse(bytes: read(path, what: "the inventory"), file: path, reservedPackageIDs: reservedPackageIDs)
    }

    /// The bytes of the file at `path` (at most one more than `maximumSize`), or the located
    /// error saying why `what` cannot be read.
    static func read(_ path: String, what: String) throws(InventoryErrors) -> [UInt8] {
        let start = SourceLocation(file: path, line: 1, column: 1)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw InventoryErrors([InventoryError(start, "cannot read \(what): no such file")])
        }
        guard !isDirectory.boolValue else {
            throw InventoryErrors([InventoryError(start, "cannot read \(what): it is a directory")])
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InventoryErrors([InventoryError(start, "cannot read \(what): permission denied")])
        }
        defer { try? handle.close() }
        do {
            return Array(try handle.read(upToCount: maximumSize + 1) ?? Data())
        } catch {
            throw InventoryErrors([InventoryError(start, "cannot read \(what): \(error)")])
        }
    }

    /// Reads and validates a catalogue file (`--catalogue`, docs/modern-exchange.md): a
    /// `packages:` list in the inventory's package format, every problem located.
    public static func loadCatalogue(path: String, reservedPackageIDs: Set<PackageID> = []) throws(InventoryErrors)
        -> [Package]
    {
        let text = try text(of: try read(path, what: "the catalogue"), file: path, what: "the catalogue")
        let start = SourceLocation(file: path, line: 1, column: 1)
        let root: YAMLNode?
        do {
            root = try YAMLComposer.compose(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text, file: path)
        } catch {
            throw InventoryErrors([error])
        }
        guard let root else {
            throw InventoryErrors([InventoryError(start, "the catalogue is empty: it needs 'packages:'")])
        }
        var reader = InventoryReader(file: path, reservedPackageIDs: reservedPackageIDs)
        let packages = reader.readCatalogue(root)
        guard reader.fields.errors.isEmpty else { throw InventoryErrors(reader.fields.errors) }
        return packages
    }

    /// Validates an inventory given as bytes (a file's contents, or an upload).
    public static func parse(bytes: [UInt8], file: String, reservedPackageIDs: Set<PackageID> = []) throws(InventoryErrors)
        -> Inventory
    {
        try parse(
            text: try text(of: bytes, file: file, what: "the inventory"), file: file,
            reservedPackageIDs: reservedPackageIDs)
    }

    /// `bytes` as text: at most `maximumSize` of them, valid UTF-8, else the located error.
    static func text(of bytes: [UInt8], file: String, what: String) throws(InventoryErrors) -> String {
        guard bytes.count <= maximumSize else {
            throw InventoryErrors([
                InventoryError(
                    SourceLocation(file: file, line: 1, column: 1), "\(what) is larger than \(maximumSize >> 20) MiB")
            ])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw InventoryErrors([InventoryError(firstInvalidUTF8(in: bytes, file: file), "\(what) is not UTF-8 text")])
        }
        return text
    }

    /// Validates an inventory given as text.
    public static func parse(text: String, file: String, reservedPackageIDs: Set<PackageID> = []) throws(InventoryErrors)
        -> Inventory
    {
        // A byte-order mark, as Notepad writes at the start of UTF-8 files, is not content.
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        let root: YAMLNode?
        do {
            // Every scalar stays text: `YAMLFields` reads the few booleans, numbers and nulls
            // of the format itself.
            root = try YAMLComposer.compose(text, file: file)
        } catch {
            throw InventoryErrors([error])
        }
        guard let root else {
            throw InventoryErrors([
                InventoryError(
                    SourceLocation(file: file, line: 1, column: 1),
                    "the inventory is empty: it needs at least 'organization:'")
            ])
        }
        var reader = InventoryReader(file: file, reservedPackageIDs: reservedPackageIDs)
        let inventory = reader.read(root)
        let errors = reader.fields.errors
        guard errors.isEmpty, let inventory else {
            throw InventoryErrors(errors)
        }
        return inventory
    }

    static func locationOf(utf8Offset: Int, in text: String, file: String) -> SourceLocation {
        var line = 1, column = 1, offset = 0
        for scalar in text.unicodeScalars {
            if offset >= utf8Offset { break }
            offset += UTF8.width(scalar)
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    static func firstInvalidUTF8(in bytes: [UInt8], file: String) -> SourceLocation {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var line = 1, column = 1
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                if UTF8.decode(encoded) == "\n" { line += 1; column = 1 } else { column += 1 }
            case .error, .emptyInput:
                return SourceLocation(file: file, line: line, column: column)
            }
        }
    }
}

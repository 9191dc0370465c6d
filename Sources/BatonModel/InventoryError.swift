/// One problem found in an inventory, located in its file.
public struct InventoryError: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): error: \(message)" }
}

/// Every problem found in an inventory at once, so an administrator fixes them in one pass
/// instead of discovering them one run at a time.
public struct InventoryErrors: Error, Sendable, CustomStringConvertible {
    /// Sorted by location, without repeats (an alias can make one place fail many times).
    public let errors: [InventoryError]

    /// More than this many problems are summarised: past that point the file is not an
    /// inventory, and a terminal full of errors helps nobody.
    public static let limit = 200

    public init(_ errors: [InventoryError]) {
        var seen = Set<InventoryError>()
        self.errors = errors.sorted { ($0.location, $0.message) < ($1.location, $1.message) }
            .filter { seen.insert($0).inserted }
    }

    public var description: String {
        var lines = errors.prefix(Self.limit).map(\.description)
        if errors.count > Self.limit, let last = errors.last {
            lines.append("\(last.location.file): error: \(errors.count - Self.limit) more problems not shown")
        }
        return lines.joined(separator: "\n")
    }
}

/// The name of a machine, cluster node, Exchange Virtual Server or cluster group. Windows
/// compares such names case-insensitively, so `node1` and `NODE1` are one machine: equality,
/// hashing and ordering ignore case, while the spelling the inventory used is kept for
/// display and output.
public struct HostName: SpelledName {
    public let spelling: String

    public init(_ spelling: String) {
        self.spelling = spelling
    }

    /// The form names are compared by: the spelling in lower case. Only the spelling is kept
    /// (a plan of a million steps names machines millions of times); comparing lowers ASCII
    /// letters as it goes, and lowers other names whole.
    public var key: String { spelling.lowercased() }

    public static func == (lhs: HostName, rhs: HostName) -> Bool {
        compare(lhs, rhs) == 0
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    public static func < (lhs: HostName, rhs: HostName) -> Bool { compare(lhs, rhs) < 0 }

    /// -1, 0 or 1 as `lhs`'s key sorts before, with or after `rhs`'s: ASCII letters lowered as
    /// they are compared; names with any other character lowered whole.
    static func compare(_ lhs: HostName, _ rhs: HostName) -> Int {
        let ascii = lhs.spelling.utf8.withContiguousStorageIfAvailable { left in
            rhs.spelling.utf8.withContiguousStorageIfAvailable { right in asciiCompare(left, right) } ?? nil
        }
        return (ascii ?? nil) ?? slowCompare(lhs, rhs)
    }

    /// The comparison of two ASCII names, each byte read once; nil when either is not ASCII.
    static func asciiCompare(_ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>) -> Int? {
        let common = min(left.count, right.count)
        var seen: UInt8 = 0
        var order = 0
        var index = 0
        while index < common {
            let a = left[index], b = right[index]
            seen |= a | b
            if a != b, lower(a) != lower(b) {
                order = lower(a) < lower(b) ? -1 : 1
                break
            }
            index += 1
        }
        // The first difference decides only if the rest is ASCII too.
        for byte in left[index...] { seen |= byte }
        for byte in right[index...] { seen |= byte }
        guard seen < 0x80 else { return nil }
        if order != 0 { return order }
        return left.count == right.count ? 0 : (left.count < right.count ? -1 : 1)
    }

    /// Names beyond ASCII, lowered whole.
    static func slowCompare(_ lhs: HostName, _ rhs: HostName) -> Int {
        let left = lhs.key, right = rhs.key
        return left == right ? 0 : (left < right ? -1 : 1)
    }

    static func lower(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
    }
}

extension HostName: CodingKeyRepresentable {
    /// As a dictionary key a name is written in the form it is compared by, so that one
    /// machine is one key whatever its spelling.
    public var codingKey: any CodingKey { NameKey(stringValue: key) }

    public init?<T: CodingKey>(codingKey: T) {
        self.init(codingKey.stringValue)
    }
}

extension Sequence where Element == HostName {
    /// The names as spelled, joined: "NODE1, NODE2".
    public func joined(separator: String = "") -> String {
        map(\.spelling).joined(separator: separator)
    }
}

import Foundation

/// Finds mapping keys that are not plain words (an alias, a list or a mapping used as a key)
/// before the YAML parser sees them. The inventory format has none, and an alias bomb used
/// as a key would make the parser hash its exponential expansion: a hang, not an error.
/// Only documents that use aliases at all are scanned.
enum ComplexKeyGuard {
    static let patterns: [(NSRegularExpression, String)] = [
        (try! NSRegularExpression(pattern: #"^\s*(-\s+)*\?(\s|$)"#), "an explicit '?' key"),
        (try! NSRegularExpression(pattern: #"\*[^\s\[\]{},]+\s*:(\s|$)"#), "an alias used as a key"),
        (try! NSRegularExpression(pattern: #"[\]}]\s*:(\s|$)"#), "a list or mapping used as a key"),
    ]

    static func firstComplexKey(in text: String, file: String) -> InventoryError? {
        guard text.contains("*") else { return nil }
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = String(line)
            let range = NSRange(line.startIndex..., in: line)
            for (pattern, what) in patterns {
                guard let match = pattern.firstMatch(in: line, range: range), let found = Range(match.range, in: line)
                else {
                    continue
                }
                let column =
                    line.unicodeScalars.distance(
                        from: line.unicodeScalars.startIndex,
                        to: found.lowerBound.samePosition(in: line.unicodeScalars) ?? line.unicodeScalars.startIndex)
                    + 1
                return InventoryError(
                    SourceLocation(file: file, line: lineNumber, column: column),
                    "\(what) is not part of the inventory format: keys are plain words")
            }
        }
        return nil
    }
}

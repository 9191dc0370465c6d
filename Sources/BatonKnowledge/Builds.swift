import BatonModel

/// The build each product shows at each level (KB 328839 and the builds Exchange reports), which
/// `verify-version` compares against (rule `verify-version`).
public enum Builds {
    public static func build(_ product: Product, _ level: Level) -> String? {
        table[product]?[level]
    }

    static let table: [Product: [Level: String]] = [
        .exchange2003: [.rtm: "6.5.6944.4", .sp1: "6.5.7226.6", .sp2: "6.5.7638.2"],
        .exchange2000: [.rtm: "6.0.4417.5", .sp1: "6.0.4712.7", .sp2: "6.0.5762.4", .sp3: "6.0.6249.0"],
        .exchange55: [
            .rtm: "5.5.1960.3", .sp1: "5.5.2232.0", .sp2: "5.5.2448.4", .sp3: "5.5.2650.21", .sp4: "5.5.2653.23",
        ],
        // The ExSetup.exe file version of each cumulative update (Microsoft's CSS-Exchange build list).
        .exchange2013: [.cu22: "15.0.1473.3", .cu23: "15.0.1497.2"],
        .exchange2016: [.cu22: "15.1.2375.7", .cu23: "15.1.2507.6"],
        .exchange2019: [.cu13: "15.2.1258.12", .cu14: "15.2.1544.4", .cu15: "15.2.1748.10"],
        .exchangeSE: [.rtm: "15.2.2562.17"],
    ]

    /// "Version 6.5 (Build 7638.2: Service Pack 2)", as Exchange System Manager shows it.
    public static func displayVersion(_ product: Product, _ level: Level) -> String? {
        guard let build = build(product, level) else { return nil }
        let parts = build.split(separator: ".")
        let version = parts.prefix(2).joined(separator: ".")
        let number = parts.dropFirst(2).joined(separator: ".")
        let suffix =
            level == .rtm
            ? "" : level.isCumulativeUpdate ? ": \(level.displayName)" : ": Service Pack \(level.rawValue.dropFirst(2))"
        return "Version \(version) (Build \(number)\(suffix))"
    }
}

extension Builds {
    /// Whether build `a` ("15.2.1748.10") is lower than `b`, part by part as numbers; false
    /// when either is not a dotted build.
    public static func isLower(_ a: String, than b: String) -> Bool {
        let parts = { (text: String) -> [Int]? in
            let numbers = text.split(separator: ".").map { Int($0) }
            return numbers.contains(nil) || numbers.isEmpty ? nil : numbers.compactMap { $0 }
        }
        guard let left = parts(a), let right = parts(b) else { return false }
        return left.lexicographicallyPrecedes(right)
    }
}

import BatonModel

/// The packages Baton knows without being told (docs/inventory.md), plus an inventory's own.
public struct PackageCatalogue: Sendable {
    public let packages: [Package]

    /// The built-in service packs of KB 328839's three product lines and the Windows
    /// prerequisite hotfix 831464 (rule `e2003-w2k3-kb831464`).
    public static let builtIn: [Package] = {
        var packages: [Package] = []
        for product in [Product.exchange55, .exchange2000, .exchange2003] {
            for level in product.levels where level != .rtm {
                packages.append(
                    Package(
                        id: "\(product.rawValue)-\(level.rawValue)", target: .exchange(product), kind: .servicePack,
                        level: level, restart: product == .exchange55 ? .never : .ifPrompted, changesStore: true,
                        build: Builds.build(product, level)))
            }
        }
        packages.append(kb831464)
        return packages + modern
    }()

    /// The forest's Exchange versions each cumulative update needs (schema rangeUpper,
    /// organization objectVersion, lowest domain objectVersion).
    static let ad2013CU23 = ADVersions(schema: 15312, organization: 16133, domain: 13237)
    static let ad2016CU23 = ADVersions(schema: 15334, organization: 16223, domain: 13243)
    static let ad2019CU14 = ADVersions(schema: 17003, organization: 16762, domain: 13243)
    static let ad2019CU15 = ADVersions(schema: 17003, organization: 16763, domain: 13243)

    /// Cumulative and security updates of Exchange 2013 and later, with the build each brings
    /// (from the build list in Microsoft's CSS-Exchange scripts) and the Active Directory versions
    /// each cumulative update needs. Exchange SE RTM carries 2019 CU15's.
    public static let modern: [Package] = [
        cumulativeUpdate("exchange-2013-cu23", .exchange2013, .cu23, ad: ad2013CU23),
        securityUpdate("exchange-2013-cu23-mar23-su", .exchange2013, for: .cu23, "mar23-su", build: "15.0.1497.48"),
        cumulativeUpdate("exchange-2016-cu23", .exchange2016, .cu23, ad: ad2016CU23),
        securityUpdate("exchange-2016-cu23-feb26-su", .exchange2016, for: .cu23, "feb26-su", build: "15.1.2507.66"),
        cumulativeUpdate("exchange-2019-cu14", .exchange2019, .cu14, ad: ad2019CU14),
        cumulativeUpdate("exchange-2019-cu15", .exchange2019, .cu15, ad: ad2019CU15),
        securityUpdate("exchange-2019-cu14-feb26-su", .exchange2019, for: .cu14, "feb26-su", build: "15.2.1544.39"),
        securityUpdate("exchange-2019-cu15-feb26-su", .exchange2019, for: .cu15, "feb26-su", build: "15.2.1748.43"),
        cumulativeUpdate("exchange-se-rtm", .exchangeSE, .rtm, ad: ad2019CU15),
        securityUpdate("exchange-se-rtm-feb26-su", .exchangeSE, for: .rtm, "feb26-su", build: "15.2.2562.37"),
    ]

    static func cumulativeUpdate(_ id: PackageID, _ product: Product, _ level: Level, ad: ADVersions) -> Package {
        Package(
            id: id, target: .exchange(product), kind: .cumulativeUpdate, level: level, restart: .always,
            changesStore: false, build: Builds.build(product, level), adVersions: ad)
    }

    static func securityUpdate(_ id: PackageID, _ product: Product, for level: Level, _ update: String, build: String)
        -> Package
    {
        Package(
            id: id, target: .exchange(product), kind: .securityUpdate, requires: level, restart: .always,
            changesStore: false, build: build, update: update)
    }

    /// Windows Server 2003 hotfix 831464: IIS 6.0 compression corruption causes an access
    /// violation. Installed on Exchange 2003 cluster nodes running Windows Server 2003,
    /// followed by a restart.
    public static let kb831464 = Package(
        id: "windows-2003-kb831464", target: .windows(.windows2003), kind: .hotfix, requires: nil, restart: .always,
        changesStore: false)

    public static var builtInIDs: Set<PackageID> { Set(builtIn.map(\.id)) }

    public init(inventory: Inventory? = nil) {
        packages = Self.builtIn + (inventory?.packages ?? [])
    }

    /// Finds a package by id, ignoring case.
    public func package(_ id: PackageID) -> Package? {
        packages.first { $0.id == id }
    }
}

/// Where each product stands in Microsoft's lifecycle (Microsoft Learn, the products'
/// lifecycle pages): what `baton packages` shows, and why a plan for a product past its end of
/// support says so.
public enum Support {
    /// The product's status in a few words.
    public static func status(_ product: Product) -> String {
        switch product {
        case .exchange55: "out of support since 2006-01-10"
        case .exchange2000: "out of support since 2011-01-11"
        case .exchange2003: "out of support since 2014-04-08"
        case .exchange2013: "out of support since 2023-04-11"
        case .exchange2016, .exchange2019: "past extended support since 2025-10-14: updates only through the Extended Security Update program"
        case .exchangeSE: "supported (Modern Lifecycle Policy)"
        }
    }

    /// Whether Microsoft still supports the product.
    public static func isSupported(_ product: Product) -> Bool { product == .exchangeSE }
}

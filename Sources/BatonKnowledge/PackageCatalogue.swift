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
        return packages
    }()

    /// Windows Server 2003 hotfix 831464: IIS 6.0 compression corruption causes an access
    /// violation. Installed on Exchange 2003 cluster nodes running Windows Server 2003,
    /// followed by a restart.
    public static let kb831464 = Package(
        id: "windows-2003-kb831464", target: .windows(.windows2003), kind: .hotfix, requires: nil, restart: .always,
        changesStore: false)

    public static var builtInIDs: Set<String> { Set(builtIn.map { $0.id.lowercased() }) }

    public init(inventory: Inventory? = nil) {
        packages = Self.builtIn + (inventory?.packages ?? [])
    }

    /// Finds a package by id, ignoring case.
    public func package(_ id: String) -> Package? {
        packages.first { $0.id.lowercased() == id.lowercased() }
    }
}

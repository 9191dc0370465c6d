import BatonModel

/// What `--to` asks for instead of one package: every server of Exchange 2013 and later to its
/// own newest update (rule `mx-latest-update`).
public enum UpdateTarget: Sendable, Hashable, CustomStringConvertible {
    /// The newest security update built for each server's own product and cumulative update.
    case latest
    /// The product's newest cumulative update first, then that update's newest security update.
    case latestCumulativeUpdate
    /// A named monthly release ("feb26"): that release's security update for each server's build.
    case release(String)

    /// `latest`, `latest-cu`, or a release's name as the catalogue's `update:` spells it, with or
    /// without its "-su" ("feb26", "feb26-su"); nil for an empty or over-long name.
    public init?(_ text: String) {
        let name = text.lowercased()
        guard !name.isEmpty, name.count <= 64, !name.contains(where: { $0 == " " || $0 == "," }) else { return nil }
        switch name {
        case "latest": self = .latest
        case "latest-cu": self = .latestCumulativeUpdate
        default: self = .release(name.hasSuffix("-su") ? String(name.dropLast(3)) : name)
        }
    }

    public var description: String {
        switch self {
        case .latest: "latest"
        case .latestCumulativeUpdate: "latest-cu"
        case .release(let name): name
        }
    }
}

/// Where `--to` leaves a server: the packages it installs, in order, or why it is left alone.
public enum Route: Sendable, Hashable {
    case install([Package])
    /// A reason that reads after the server's name ("already has feb26-su, the newest for
    /// exchange-2019 cu15"), and the rule that says so.
    case leftAlone(String, Rule.ID)
}

extension PackageCatalogue {
    /// Where `target` takes `server` (rule `mx-latest-update`). Works from the catalogue alone:
    /// a package the catalogue does not list is never chosen.
    public func route(_ server: Server, to target: UpdateTarget) -> Route {
        let install = server.install
        let product = install.product
        guard product.isModern else {
            return .leftAlone(
                "run \(product.rawValue): KB 328839's service packs are planned one package at a time (--package)",
                .packageApplicability)
        }
        guard Support.receivesUpdates(product) else {
            return .leftAlone(
                "run \(product.rawValue), \(Support.status(product)): Microsoft publishes no more updates for it; move its mailboxes to a supported version",
                .mxSupportStatus)
        }
        var level = install.level
        var packages: [Package] = []
        if target == .latestCumulativeUpdate, let newest = newestCumulativeUpdate(for: product), let to = newest.level,
            level < to
        {
            packages.append(newest)
            level = to
        }
        let built = securityUpdates(for: product, at: level, release: target)
        guard let newest = built.last else {
            if !packages.isEmpty { return .install(packages) }
            if case .release(let name) = target {
                return .leftAlone(
                    "run \(product.rawValue) \(level.rawValue), for which the catalogue has no \(name) security update",
                    .mxSUCUSpecific)
            }
            return .leftAlone(
                "run \(product.rawValue) \(level.rawValue), for which the catalogue has no security update",
                .mxSUCUSpecific)
        }
        if packages.isEmpty, let have = server.update?.lowercased() {
            // The update the server has, if the catalogue knows it; an unknown name is taken
            // to be older than anything the catalogue offers.
            if let current = securityUpdates(for: product, at: level, release: nil).last(where: {
                $0.update?.lowercased() == have
            }) {
                if current.id == newest.id {
                    return .leftAlone(
                        "already have \(current.update ?? have), the newest security update for \(product.rawValue) \(level.rawValue)",
                        .mxLatestUpdate)
                }
                if !isNewer(newest, than: current) {
                    return .leftAlone(
                        "already have \(current.update ?? have), newer than \(newest.update ?? newest.id.spelling)",
                        .mxLatestUpdate)
                }
            }
        }
        return .install(packages + [newest])
    }

    /// The product's newest cumulative update in the catalogue.
    func newestCumulativeUpdate(for product: Product) -> Package? {
        packages.filter { $0.kind == .cumulativeUpdate && $0.product == product && $0.level != nil }
            .max { ($0.level ?? .rtm) < ($1.level ?? .rtm) }
    }

    /// The security updates built for `product` at `level` (of `release`, for a named one),
    /// oldest first by build, catalogue order among equal builds.
    func securityUpdates(for product: Product, at level: Level, release target: UpdateTarget?) -> [Package] {
        let built = packages.filter { package in
            guard package.kind == .securityUpdate, package.product == product, package.requires == level else {
                return false
            }
            guard case .release(let name) = target else { return true }
            let update = package.update?.lowercased() ?? ""
            return update == name || update == name + "-su"
        }
        return built.enumerated().sorted { a, b in
            if isNewer(b.element, than: a.element) { return true }
            if isNewer(a.element, than: b.element) { return false }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// Whether `a`'s build is higher than `b`'s; false when either has none.
    func isNewer(_ a: Package, than b: Package) -> Bool {
        guard let left = a.build, let right = b.build else { return false }
        return Builds.isLower(right, than: left)
    }
}

extension Support {
    /// Whether Microsoft still publishes updates for the product: Exchange 2016 and 2019 only
    /// through the Extended Security Update program, SE under the Modern Lifecycle Policy.
    public static func receivesUpdates(_ product: Product) -> Bool {
        [.exchange2016, .exchange2019, .exchangeSE].contains(product)
    }
}

import BatonPlan
import BatonKnowledge
import BatonModel

/// Decides which machines a package touches (rule `package-applicability`) and what level and
/// build they reach.
struct Applicability {
    let package: Package

    enum Verdict: Equatable {
        case applies
        case otherProduct
        case alreadyAtLevel(Level)
        case belowRequirement(Level)
        case alreadyInstalled
        case notACandidate
    }

    /// Whether the package installs on a stand-alone server or cluster node.
    func verdict(_ install: ExchangeInstall, clustered: Bool) -> Verdict {
        if install.installed.contains(package.id) {
            return .alreadyInstalled
        }
        switch package.target {
        case .windows(let os):
            // Hotfix 831464 is KB 328839's prerequisite for Exchange 2003 cluster nodes on
            // Windows Server 2003 (rule `e2003-w2k3-kb831464`); a custom Windows package
            // applies to every Exchange machine on that Windows release.
            guard install.os == os else { return .otherProduct }
            if package.id == PackageCatalogue.kb831464.id {
                return clustered && install.product == .exchange2003 ? .applies : .notACandidate
            }
            return .applies
        case .exchange(let product):
            guard install.product == product else { return .otherProduct }
            switch package.kind {
            case .servicePack:
                guard let level = package.level else { return .notACandidate }
                return install.level < level ? .applies : .alreadyAtLevel(install.level)
            case .hotfix:
                let requires = package.requires ?? .rtm
                return install.level >= requires ? .applies : .belowRequirement(install.level)
            case .cumulativeUpdate, .securityUpdate:
                // Planned by `ModernPlanner`.
                return .notACandidate
            }
        }
    }

    var isServicePack: Bool { package.kind == .servicePack }
    var isExchangePackage: Bool { package.product != nil }

    /// The build `verify-version` expects afterwards, when one is known.
    func expectedBuild(_ product: Product, from level: Level) -> String? {
        if isServicePack, let target = package.level { return Builds.build(product, target) ?? package.build }
        return package.build ?? Builds.build(product, level)
    }
}

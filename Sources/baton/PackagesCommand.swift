import ArgumentParser
import BatonKnowledge
import BatonModel

struct PackagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packages",
        abstract: "Lists the built-in packages (and an inventory's own, if given).")

    @Argument(help: "An inventory whose custom packages to list as well.")
    var inventory: String?

    func run() throws {
        var catalogue = PackageCatalogue()
        if let inventory {
            do {
                catalogue = PackageCatalogue(
                    inventory: try InventoryLoader.load(
                        path: inventory, reservedPackageIDs: PackageCatalogue.builtInIDs))
            } catch {
                Terminal.error(error.description)
                throw ExitCode(ExitStatus.badInput)
            }
        }
        Terminal.out(
            "\("id".padded(28)) \("for".padded(14)) \("kind".padded(18)) \("level".padded(9)) \("build".padded(13)) \("restart".padded(11)) \("AD schema/org/domain".padded(21)) support\n"
        )
        for package in catalogue.packages {
            let level =
                package.level?.rawValue
                ?? package.requires.map { package.kind == .securityUpdate ? "on \($0.rawValue)" : "≥ \($0.rawValue)" }
                ?? "-"
            let ad = package.adVersions.map { versions in
                [versions.schema, versions.organization, versions.domain].map { $0.map(String.init) ?? "-" }
                    .joined(separator: "/")
            }
            Terminal.out(
                "\(package.id.spelling.padded(28)) \(package.target.rawValue.padded(14)) \(package.kind.rawValue.padded(18)) \(level.padded(9)) \((package.build ?? "-").padded(13)) \(package.restart.rawValue.padded(11)) \((ad ?? "-").padded(21)) \(Product(rawValue: package.target.rawValue).map(Support.status) ?? "-")\n"
            )
        }
    }
}

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
            "\("id".padded(26)) \("for".padded(14)) \("kind".padded(13)) \("level".padded(9)) \("build".padded(12)) restart\n"
        )
        for package in catalogue.packages {
            let level = package.level?.rawValue ?? package.requires.map { "≥ \($0.rawValue)" } ?? "-"
            Terminal.out(
                "\(package.id.padded(26)) \(package.target.rawValue.padded(14)) \(package.kind.rawValue.padded(13)) \(level.padded(9)) \((package.build ?? "-").padded(12)) \(package.restart.rawValue)\n"
            )
        }
    }
}

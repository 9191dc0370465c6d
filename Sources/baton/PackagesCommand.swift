import ArgumentParser
import BatonKnowledge
import BatonModel

struct PackagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packages",
        abstract: "Lists the built-in packages (and an inventory's own, if given).")

    @Argument(help: "An inventory whose custom packages to list as well.")
    var inventory: String?

    @Option(help: "text or json.")
    var format: RunExecutionFormat = .text

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
        if format == .json {
            Terminal.out(
                JSONValue.pretty(
                    .list(
                        catalogue.packages.map { package in
                            var object: [String: JSONValue] = [
                                "id": .text(package.id.spelling), "for": .text(package.target.rawValue),
                                "kind": .text(package.kind.rawValue), "restart": .text(package.restart.rawValue),
                            ]
                            if let level = package.level { object["level"] = .text(level.rawValue) }
                            if let requires = package.requires { object["requires"] = .text(requires.rawValue) }
                            if let build = package.build { object["build"] = .text(build) }
                            if let versions = package.adVersions {
                                var ad: [String: JSONValue] = [:]
                                if let schema = versions.schema { ad["schema"] = .number(schema) }
                                if let organization = versions.organization { ad["organization"] = .number(organization) }
                                if let domain = versions.domain { ad["domain"] = .number(domain) }
                                object["activeDirectory"] = .object(ad)
                            }
                            if let product = Product(rawValue: package.target.rawValue) {
                                object["support"] = .text(Support.status(product))
                            }
                            return .object(object)
                        })))
            return
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

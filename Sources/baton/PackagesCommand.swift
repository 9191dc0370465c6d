import ArgumentParser
import BatonKnowledge
import BatonModel
import Foundation

struct PackagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packages",
        abstract: "Lists the built-in packages (and an inventory's own, if given).")

    @Argument(help: "An inventory whose custom packages to list as well.")
    var inventory: String?

    @Option(help: "text or json.")
    var format: RunExecutionFormat = .text

    @Option(
        help: ArgumentHelp(
            "With an inventory: what each server would get toward this target (latest, latest-cu or a monthly release's name).",
            valueName: "target"))
    var to: UpdateTarget?

    @Option(
        help: ArgumentHelp(
            "A YAML file of packages beyond the built-in catalogue; also BATON_CATALOGUE.", valueName: "file"),
        completion: .file(extensions: ["yaml", "yml"]))
    var catalogue: String?

    func run() throws {
        var catalogue = PackageCatalogue()
        let file = Choosing.catalogueFile(self.catalogue)
        if let inventory {
            let inventory = try Loading.inventory(path: inventory, catalogue: file)
            catalogue = PackageCatalogue(inventory: inventory)
            if let to { return routes(inventory, catalogue, to) }
        } else if let file {
            let none = Inventory(organization: "")
            catalogue = PackageCatalogue(inventory: Inventory(organization: "", packages: try Loading.packages(file, beside: none)))
        }
        if to != nil {
            Terminal.error("error: --to needs an inventory: baton packages INVENTORY --to latest")
            throw ExitCode(ExitStatus.badInput)
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

    /// `--to` with an inventory: each server, what it runs, and what it would get or why not.
    func routes(_ inventory: Inventory, _ catalogue: PackageCatalogue, _ target: UpdateTarget) {
        let rows = inventory.servers.map { server in (server, catalogue.route(server, to: target)) }
        if format == .json {
            Terminal.out(
                JSONValue.pretty(
                    .list(
                        rows.map { server, route in
                            var object: [String: JSONValue] = [
                                "server": .text(server.name.spelling), "product": .text(server.install.product.rawValue),
                                "level": .text(server.install.level.rawValue),
                            ]
                            if let update = server.update { object["update"] = .text(update) }
                            switch route {
                            case .install(let packages): object["packages"] = .list(packages.map { .text($0.id.spelling) })
                            case .leftAlone(let reason, let rule):
                                object["packages"] = .list([])
                                object["leftAlone"] = .text(reason)
                                object["rule"] = .text(rule.rawValue)
                            }
                            return .object(object)
                        })))
            return
        }
        Terminal.out("\("server".padded(16)) \("runs".padded(30)) gets (--to \(target))\n")
        for (server, route) in rows {
            let runs = "\(server.install.product.rawValue) \(server.install.level.rawValue)\(server.update.map { " \($0)" } ?? "")"
            let gets =
                switch route {
                case .install(let packages): packages.map(\.id.spelling).joined(separator: ", then ")
                case .leftAlone(let reason, _): "nothing: \(reason)"
                }
            Terminal.out("\(server.name.spelling.padded(16)) \(runs.padded(30)) \(gets)\n")
        }
    }
}

import ArgumentParser
import BatonModel

/// Prints a large generated organization, to try Baton at scale and to reproduce the
/// figures in docs/benchmarks.md.
struct GenerateInventoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-inventory",
        abstract: "Prints a generated Exchange 2003 organization of the given size as an inventory.")

    @Option(help: "Stand-alone servers (one in ten a front-end, in pools of five).")
    var servers = 100

    @Option(help: "Clusters (two-node active/passive, two-node active/active and four-node N+1 in turn).")
    var clusters = 10

    func validate() throws {
        guard (0...1_000_000).contains(servers), (0...100_000).contains(clusters) else {
            throw ValidationError("servers must be 0 to 1,000,000 and clusters 0 to 100,000")
        }
    }

    func run() {
        Terminal.out(SyntheticOrganization.yaml(servers: servers, clusters: clusters))
    }
}

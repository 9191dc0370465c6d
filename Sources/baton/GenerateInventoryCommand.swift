import ArgumentParser
import BatonModel

/// Prints a large generated organization, to try Baton at scale and to reproduce the
/// figures in docs/benchmarks.md.
struct GenerateInventoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-inventory",
        abstract:
            "Prints a generated organization of the given size as an inventory: Exchange 2003 servers and clusters, or Exchange 2019 DAGs with --dags."
    )

    @Option(help: "Stand-alone servers (one in ten a front-end, in pools of five).")
    var servers = 100

    @Option(help: "Clusters (two-node active/passive, two-node active/active and four-node N+1 in turn).")
    var clusters = 10

    @Option(help: "Exchange 2019 CU14 DAGs of four members with five databases each, over three sites, instead.")
    var dags: Int?

    func validate() throws {
        guard (0...1_000_000).contains(servers), (0...100_000).contains(clusters) else {
            throw ValidationError("servers must be 0 to 1,000,000 and clusters 0 to 100,000")
        }
        if let dags, !(1...100_000).contains(dags) { throw ValidationError("dags must be 1 to 100,000") }
    }

    func run() {
        if let dags {
            Terminal.out(SyntheticOrganization.modernYAML(dags: dags))
        } else {
            Terminal.out(SyntheticOrganization.yaml(servers: servers, clusters: clusters))
        }
    }
}

import BatonKnowledge

extension LabTwin {
    /// Every machine's and virtual server's build now.
    public var builds: [String: String] {
        var builds: [String: String] = [:]
        for host in hosts.values { builds[host.name] = host.build ?? "-" }
        for group in groups.values where group.isVirtualServer {
            builds[group.name] =
                group.product.flatMap { product in group.level.flatMap { Builds.build(product, $0) } } ?? "-"
        }
        return builds
    }
}

import BatonModel

/// What a cumulative update of Exchange 2013 and later needs on the server before setup runs
/// (rules `mx-prerequisites`, `mx-dotnet-first`). Sources: Microsoft Learn, "Exchange Server
/// supportability matrix" (the .NET Framework versions each cumulative update supports) and
/// "Exchange Server prerequisites" (the Visual C++ runtimes); the release keys and the
/// recommended version per build as CSS-Exchange's HealthChecker computes them
/// (`Shared/Get-NETFrameworkVersion.ps1`, `Analyzer/Invoke-AnalyzerOsInformation.ps1`).
public struct PrerequisiteNeeds: Sendable, Hashable {
    /// The lowest .NET Framework setup accepts.
    public var dotnet: DotNetFramework
    /// The version to install when the server runs less: the highest the matrix supports for
    /// the update on that Windows release.
    public var dotnetToInstall: DotNetFramework
    /// The Visual C++ runtimes setup checks for.
    public var runtimes: [VisualCRuntime]

    /// What `package` needs on a server of `role` running `os`; nil for a package that needs
    /// nothing checked (security updates, KB 328839's product lines).
    public static func of(_ package: Package, role: Role, os: OperatingSystem) -> PrerequisiteNeeds? {
        of(package.kind, package.product, role: role, os: os)
    }

    /// What a package of `kind` for `product` needs.
    public static func of(_ kind: PackageKind, _ product: Product?, role: Role, os: OperatingSystem)
        -> PrerequisiteNeeds?
    {
        guard kind == .cumulativeUpdate, let product, product.isModern else { return nil }
        let runtimes: [VisualCRuntime] = role == .edge ? [.vc2012] : [.vc2012, .vc2013]
        switch product {
        case .exchange2013:
            // Exchange 2013 CU23: .NET Framework 4.7.2 or 4.8.
            return PrerequisiteNeeds(dotnet: .v472, dotnetToInstall: .v48, runtimes: runtimes)
        case .exchange2016:
            // Exchange 2016 CU23: .NET Framework 4.8.
            return PrerequisiteNeeds(dotnet: .v48, dotnetToInstall: .v48, runtimes: runtimes)
        case .exchange2019, .exchangeSE:
            // Exchange 2019 CU14 and later and SE: 4.8 or 4.8.1. The .NET Framework 4.8.1 runs on
            // Windows Server 2022 and later only; on Windows Server 2019 HealthChecker recommends 4.8.
            let newest: DotNetFramework = [.windows2022, .windows2025].contains(os) ? .v481 : .v48
            return PrerequisiteNeeds(dotnet: .v48, dotnetToInstall: newest, runtimes: runtimes)
        default:
            return nil
        }
    }
}

/// The Windows release a server runs. It decides prerequisites such as hotfix 831464 on
/// Windows Server 2003 cluster nodes (rule `e2003-w2k3-kb831464`).
public enum OperatingSystem: String, Sendable, Hashable, CaseIterable, Codable {
    case windowsNT4 = "windows-nt4"
    case windows2000 = "windows-2000"
    case windows2003 = "windows-2003"
    case windows2012R2 = "windows-2012-r2"
    case windows2016 = "windows-2016"
    case windows2019 = "windows-2019"
    case windows2022 = "windows-2022"
    case windows2025 = "windows-2025"
}

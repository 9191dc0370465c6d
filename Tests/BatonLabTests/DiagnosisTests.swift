import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Testing

@Suite("Diagnosis of known failures")
struct DiagnosisTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func findings(_ name: String) throws -> [Diagnosis.Finding] {
        Diagnosis.findings(in: try String(contentsOf: Self.fixtures.appendingPathComponent(name), encoding: .utf8))
    }

    @Test("event 1025 in KB 328839's event layout, found once at its first line")
    func event1025Text() throws {
        let found = try findings("event-1025.txt")
        #expect(found.map(\.rule) == [.e2003Event1025])
        #expect(found.first?.line == 2)
        #expect(found.first?.remedy.contains("Reinstall") == true)
    }

    @Test("event 1025 in a CSV export of the Application log")
    func event1025CSV() throws {
        let found = try findings("application-log.csv")
        #expect(found.map(\.rule) == [.e2003Event1025])
        #expect(found.first?.line == 3)
    }

    @Test("a hotfix log: FileInUse, another installer, a restart required")
    func hotfixLog() throws {
        #expect(try findings("KB831464.log").map(\.rule) == [.fileInUse, .noConcurrentInstallers, .restartIfPrompted])
    }

    @Test("a clean log has no finding")
    func clean() throws {
        #expect(try findings("clean.log").isEmpty)
    }

    @Test(
        "pasted error text",
        arguments: [
            (
                "The version of Exchange on this computer does not match the version of Exchange on server 'EVS1'. ID: c1037b44",
                Rule.ID.e2003C1037b44
            ),
            ("Unable to restore: the backup was made with an earlier service pack", .backupAfter),
            ("How do I uninstall Exchange 2003 service pack 2?", .noUninstall),
            ("Setup failed: the Cluster service is still running on NODE1", .clusterStopService),
            ("Active Directory Connector version mismatch: ADC not upgraded", .e2003ADCSeparate),
            (
                "The upgrade patch cannot be installed by the Windows Installer service because the program to be upgraded may be missing",
                .mxSUCUSpecific
            ),
            ("Installation of this Interim Update is incompatible with the current configuration", .mxSUInterimUpdate),
            (
                "Could not load file or assembly 'Microsoft.Exchange.Common, Version=15.0.0.0' or one of its dependencies",
                .mxSUNonElevatedHTTP500
            ),
            (
                "Error 1603: insufficient privileges to access C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess\\owa\\auth\\15.2.1748.43",
                .mxSU1603
            ),
            (
                "Setup encountered a problem: the organization-level objects haven't been created because the local computer isn't in the same domain and site as the schema master",
                .mxPrepareADWrongSite
            ),
            (
                "Move-ActiveMailboxDatabase: An Active Manager operation failed. Error: AmDbMoveMoveSuppressedBlackoutException",
                .mxMoveBlackout
            ),
            (
                "PS D:\\> setup.exe /m:upgrade /IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF\nC:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\Setup.exe: Microsoft Exchange Server 2019 Cumulative Update 14 Unattended Setup",
                .mxCURunDotSetup
            ),
            (
                "Exchange Server setup\nError 1619: This installation package could not be opened. Verify that the package exists and that you can access it",
                .mxCURunDotSetup
            ),
            (
                "ServerWideOffline   Inactive   Requester: Functional",
                .mxFailedUpdateComponents
            ),
        ])
    func pasted(_ text: String, _ rule: Rule.ID) {
        #expect(Diagnosis.findings(in: text).map(\.rule).contains(rule))
    }

    @Test("an Exchange 2019 setup log: pending restart, execution policy, disabled services, a bad well-known object")
    func exchangeSetupLog() throws {
        let path = LabFixture.examples.appendingPathComponent("logs/ExchangeSetup.log")
            .path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let rules = Set(Diagnosis.findings(in: text).map(\.rule))
        #expect(
            rules.isSuperset(of: [
                .mxReadinessRebootPending, .mxExecutionPolicyGPO, .mxServicesDisabled, .mxPrepareADWellKnownObject,
            ]), "\(rules)")
    }

    @Test("the lab twin's own logs are recognised")
    func twinLogs() throws {
        let inventory = try LabFixture.inventory("e2003-standalone.yaml")
        var twin = LabTwin(inventory: inventory, seed: 1)
        _ = twin.perform(LabFixture.step(.install, host: "MAIL", package: "exchange-2003-sp2"))
        #expect(
            Diagnosis.findings(in: twin.hosts["mail"]!.installerLog.joined(separator: "\n")).map(\.rule) == [.fileInUse]
        )
        var cluster = LabTwin(inventory: try LabFixture.inventory("e2003-two-node-cluster.yaml"), seed: 1)
        try cluster.inject(LabFault(.evicted, "NODE2"))
        _ = cluster.perform(LabFixture.step(.resourcesOnline, host: "NODE2", group: "EVS1"))
        #expect(
            Diagnosis.findings(in: cluster.hosts["node2"]!.eventLog.joined(separator: "\n")).map(\.rule) == [
                .e2003Event1025
            ])
    }
}

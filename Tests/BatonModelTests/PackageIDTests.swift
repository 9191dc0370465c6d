import BatonKnowledge
import BatonModel
import Foundation
import Testing

@Suite("Package ids")
struct PackageIDTests {
    @Test("ids compare, hash and find packages without regard to case, and keep their spelling")
    func caseInsensitive() throws {
        let typed = PackageID("Exchange-2003-SP2")
        #expect(typed == "exchange-2003-sp2")
        #expect(Set([typed, PackageID("EXCHANGE-2003-sp2")]).count == 1)
        #expect(typed.description == "Exchange-2003-SP2")
        let package = try #require(PackageCatalogue().package(typed))
        #expect(package.id.spelling == "exchange-2003-sp2")
        #expect(PackageCatalogue.builtInIDs.contains("EXCHANGE-2019-CU15"))
        #expect(!PackageCatalogue.builtInIDs.contains("exchange-2019-cu99"))
    }

    @Test("as a value and as a dictionary key an id is written as spelled, and read back")
    func coding() throws {
        let table: [PackageID: Int] = ["Exchange-2019-CU15": 1]
        let text = String(decoding: try JSONEncoder().encode(table), as: UTF8.self)
        #expect(text == #"{"Exchange-2019-CU15":1}"#)
        let read = try JSONDecoder().decode([PackageID: Int].self, from: Data(text.utf8))
        #expect(read["exchange-2019-cu15"] == 1)
        #expect(String(decoding: try JSONEncoder().encode([PackageID("a-B")]), as: UTF8.self) == #"["a-B"]"#)
    }

    @Test("an inventory's installed ids and its own packages are ids: a built-in id in any case is refused")
    func inventory() throws {
        let text = """
            organization: Lab
            packages:
              - id: EXCHANGE-2003-SP2
                product: exchange-2003
                kind: hotfix
            servers:
              - name: ex1
                product: exchange-2003
                level: sp1
                os: windows-2003
                installed: [Windows-2003-KB831464]
            """
        let refusal = #expect(throws: InventoryErrors.self) {
            try InventoryLoader.parse(text: text, file: "org.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
        }
        #expect("\(refusal.map { "\($0)" } ?? "")".contains("package id 'EXCHANGE-2003-SP2' is a built-in package"))
        let accepted = try InventoryLoader.parse(
            text: text.replacingOccurrences(of: "EXCHANGE-2003-SP2", with: "site-hotfix"), file: "org.yaml",
            reservedPackageIDs: PackageCatalogue.builtInIDs)
        #expect(accepted.servers.first?.install.installed == [PackageCatalogue.kb831464.id])
    }
}

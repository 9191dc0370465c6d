import BatonModel
import Foundation
import Testing

enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// Parses `text` and returns its errors (empty when it loads).
func errors(_ text: String) -> [InventoryError] {
    do {
        _ = try InventoryLoader.parse(text: text, file: "t.yaml", reservedPackageIDs: ["exchange-2003-sp2"])
        return []
    } catch {
        return error.errors
    }
}

@Suite("Inventory loading")
struct InventoryLoaderTests {
    @Test("a valid inventory loads with its clusters, nodes and overrides")
    func loadsValid() throws {
        let inventory = try InventoryLoader.load(path: Fixture.path("valid.yaml"))
        #expect(inventory.organization == "mixed")
        #expect(inventory.servers.count == 10)
        let clb = try #require(inventory.clusters.first { $0.name == "CLB" })
        #expect(clb.mode == .activeActive)
        #expect(clb.nodes.map(\.install.level) == [.sp1, .sp1, .sp2])
        #expect(clb.nodes[1].install.installed == ["windows-2003-kb831464"])
        #expect(clb.virtualServers[0].preferredOwner == "B1")
        #expect(inventory.durations["backup"] == 30 * 60)
        #expect(inventory.packages.first?.requires == .sp2)
    }

    @Test("every problem of a broken inventory is reported at once, each located")
    func allErrorsAtOnce() throws {
        let path = Fixture.path("many-errors.yaml")
        var found: [InventoryError] = []
        do { _ = try InventoryLoader.load(path: path) } catch { found = error.errors }
        let expectations: [(Int, Int, String)] = [
            (2, 27, "already used by a domain controller"),
            (6, 12, "exchange-2003 has no level 'sp3'"),
            (9, 5, "unknown key 'prodcut' in a server; did you mean 'product'?"),
            (10, 11, "the name 'FE1' is already used by a server"),
            (13, 9, "exchange-2000 does not run on windows-2003"),
            (18, 5, "front-end and back-end servers exist from Exchange 2000 on"),
            (19, 17, "component 'adc' is upgraded with exchange-2000 or exchange-2003"),
            (24, 5, "only front-end servers sit in a load-balancing pool"),
            (30, 12, "needs at least two nodes"),
            (31, 20, "cluster-group 'N9' is not a node of cluster CL"),
            (33, 28, "owner 'NX' is not a node of cluster CL"),
            (33, 39, "level 'sp7' is not one of"),
            (35, 3, "host 'GHOST' is not a server"),
            (36, 14, "via 'telnet' is not one of: ssh, local"),
            (36, 28, "port must be a whole number from 1 to 65535"),
            (38, 12, "duration of install 'forever' is not a duration"),
        ]
        for (line, column, text) in expectations {
            #expect(
                found.contains {
                    $0.location.line == line && $0.location.column == column && $0.message.contains(text)
                },
                "expected \(line):\(column) \(text) in:\n\(found.map(\.description).joined(separator: "\n"))")
        }
        #expect(found.allSatisfy { $0.location.file == path })
        #expect(found == found.sorted { ($0.location, $0.message) < ($1.location, $1.message) })
    }

    @Test(
        "located errors for single mistakes",
        arguments: [
            ("", 1, 1, "the inventory is empty"),
            ("servers: []\n", 1, 1, "missing required key 'organization'"),
            ("organization: [a, b]\n", 1, 15, "organization must be a single value"),
            ("organization: x\nservers: {a: 1}\n", 2, 10, "servers must be a list"),
            ("organization: x\nservers:\n  - name: A\n", 3, 5, "server A: missing required key 'product'"),
            (
                "organization: x\nservers:\n  - {name: A, product: exchange-2003, level: sp1, os: windows-2003, role: mailbox}\n",
                3, 75, "role 'mailbox' is not one of"
            ),
            ("organization: x\norganization: y\n", 1, 1, "duplicate key 'organization'"),
            ("organization: x\n  bad: indent\n", 2, 6, "YAML syntax"),
            ("organization: 'unterminated\n", 2, 1, "YAML syntax"),
            ("organization: x\n---\norganization: y\n", 2, 1, "YAML syntax"),
            (
                "organization: x\nservers:\n  - {name: 'a b', product: exchange-2003, level: sp1, os: windows-2003}\n",
                3, 12, "is not a valid name"
            ),
            (
                "organization: x\npackages:\n  - {id: exchange-2003-sp2, product: exchange-2003, kind: hotfix}\n", 3, 5,
                "is a built-in package"
            ),
            (
                "organization: x\npackages:\n  - {id: sp9, product: exchange-2003, kind: service-pack}\n", 3, 5,
                "a service pack needs 'level'"
            ),
            (
                "organization: x\nclusters:\n  - {name: C, product: exchange-2003, level: sp1, os: windows-2003, nodes: [A, B], cluster-group: A, virtual-servers: [{name: E, owner: A, product: exchange-2003}]}\n  - {name: D, product: exchange-2003, level: sp1, os: windows-2003, nodes: [a, Q], cluster-group: Q}\n",
                4, 77, "a node belongs to one cluster"
            ),
            ("organization: x\nx: &a [1]\n*a : 2\n", 3, 1, "an alias used as a key"),
            ("organization: x\nservers: *nowhere\n", 2, 10, "found undefined alias"),
            ("organization: x\nservers: [{b: 1, a: 1, b: 2, a: 3}]\n", 2, 18, "duplicate key 'a', 'b' in one mapping"),
            // Over budget anywhere is said first, before what stops the tree earlier.
            (
                "organization: x\norganization: y\nx: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
                3, 67, "levels deep"
            ),
            ("organization: x\n---\nx: &a [1]\ny: {*a : 1}\n", 4, 5, "an alias used as a key"),
        ] as [(String, Int, Int, String)])
    func singleMistakes(_ text: String, _ line: Int, _ column: Int, _ message: String) {
        let found = errors(text)
        #expect(
            found.contains { $0.location.line == line && $0.location.column == column && $0.message.contains(message) },
            "\(found.map(\.description))")
    }

    @Test("a domain controller may also be a server (Small Business Server)")
    func sbsDomainController() {
        #expect(
            errors(
                "organization: x\ndomain-controllers: [SBS]\nservers:\n  - {name: sbs, product: exchange-2003, level: sp1, os: windows-2003, edition: small-business-server}\n"
            ).isEmpty)
    }

    @Test("hostile bytes give located errors, not crashes or hangs", .timeLimit(.minutes(5)))
    func hostileBytes() throws {
        let cases: [[UInt8]] = [
            Array(repeating: 0, count: 100),
            Array(0...255) + Array(0...255),
            Array("organization: x\n".utf8) + [0xFF, 0xFE, 0x0A],
            Array(("organization: " + String(repeating: "[", count: 100_000)).utf8),
            Array(("organization: x\nservers: " + String(repeating: "- ", count: 50_000) + "x").utf8),
            Array(aliasBomb(asKey: false).utf8),
            Array(aliasBomb(asKey: true).utf8),
            Array("organization: x\nservers: [".utf8) + Array(repeating: UInt8(ascii: "#"), count: 100_000),
        ]
        for bytes in cases {
            do {
                _ = try InventoryLoader.parse(bytes: bytes, file: "hostile.yaml")
                Issue.record("hostile input accepted")
            } catch {
                #expect(!error.errors.isEmpty)
                #expect(
                    error.errors.allSatisfy {
                        $0.location.line >= 1 && $0.location.column >= 1 && $0.location.file == "hostile.yaml"
                    })
            }
        }
    }

    @Test("missing files and directories are reported at line 1, column 1")
    func unreadable() {
        for path in ["/nonexistent/inventory.yaml", "/tmp"] {
            do {
                _ = try InventoryLoader.load(path: path)
                Issue.record("loaded \(path)")
            } catch {
                #expect(error.errors.first?.location == SourceLocation(file: path, line: 1, column: 1))
            }
        }
    }

    @Test("durations accept 45m, 90s, 1h30m and bare minutes")
    func durations() {
        #expect(DurationText.seconds("45m") == 2700)
        #expect(DurationText.seconds("90s") == 90)
        #expect(DurationText.seconds("1h30m") == 5400)
        #expect(DurationText.seconds("20") == 1200)
        #expect(DurationText.seconds("m") == nil)
        #expect(DurationText.seconds("99999999h") == nil)
        #expect(DurationText.seconds("-5") == nil)
    }
}

/// Ten levels of ten aliases each: 10^10 nodes if expanded.
func aliasBomb(asKey: Bool) -> String {
    var lines = ["organization: x", "servers:", "  - &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in 1..<10 {
        lines.append("  - &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]")
    }
    lines.append(asKey ? "clusters:\n  ? *a9\n  : 1" : "clusters: *a9")
    return lines.joined(separator: "\n") + "\n"
}

import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every entrance refuses hostile input with a clear answer and bounded work: the YAML
/// parser, the API's file access, links, host names, streams, tokens, templates and damaged
/// state.
@Suite("Hardened entrances", .serialized)
struct HardeningTests {
    static func temporary(_ name: String, _ text: String) throws -> String {
        let path = BatonProcess.temporaryPath("hardening") + "-" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// e2003-standalone with its two machines run by a shell profile on the controller, each
    /// command writing a line to `folder/log`; `mail` is MAIL's `hosts:` entry.
    static func shellInventory(logTo folder: String, mail: String = "{via: local, profile: files}") throws -> String {
        var text = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent("examples/e2003-standalone.yaml"),
            encoding: .utf8)
        text += """

            profiles:
              files:
                kind: shell
                commands:
                  probe: 'echo probe {{address}} >> \(folder)/log'
                  restart: 'true'
                  backup: 'echo backup {{address}} >> \(folder)/log'
                  quiesce: 'echo quiesce {{address}} >> \(folder)/log'
                  check-installers: 'true'
                  install: 'echo install {{address}} >> \(folder)/log'
                  restore-services: 'true'
                  verify-version: 'true'
            hosts:
              DC1: {via: local, profile: files}
              MAIL: \(mail)

            """
        return text
    }

    /// The alias bomb of nine levels used as a flow mapping's key.
    static var flowKeyBomb: String {
        var text = "organization: x\nservers:\n  - &x0 [a,a,a,a,a,a,a,a,a,a]\n"
        for level in 1...8 {
            text += "  - &x\(level) [" + Array(repeating: "*x\(level - 1)", count: 10).joined(separator: ",") + "]\n"
        }
        return text + "hosts: { ? *x8\n  : y }\n"
    }

    @Test("the flow-key alias bomb is refused, located, by the command line and the API; the server stays responsive")
    func aliasBomb() async throws {
        let path = try Self.temporary("bomb.yaml", Self.flowKeyBomb)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let plan = try BatonProcess.run(["plan", path, "--package", "exchange-2003-sp2"])
        #expect(plan.status == 2, "\(plan.stderr)")
        #expect(plan.stderr.contains("\(path):") && plan.stderr.contains("aliases here stand for more than"))

        let server = try await ServeProcess(state: BatonProcess.temporaryPath("hardening-state"))
        defer { server.stop() }
        let viewer = try server.token("viewer", name: "vera")
        async let bombs = withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await server.call(
                        .POST, "/api/plans", token: viewer,
                        body: ["package": "exchange-2003-sp2", "inventory": Self.flowKeyBomb]
                    ).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let runs = try await server.call(.GET, "/api/runs")
        #expect(runs.status == 200)
        let statuses = try await bombs
        #expect(statuses.allSatisfy { $0 == 400 || $0 == 503 } && statuses.contains(400), "\(statuses)")
        #expect(server.stop() == 0, "SIGTERM still stops it")
    }

    @Test("a UTF-8 byte-order mark is accepted")
    func byteOrderMark() throws {
        let text = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent("examples/contoso.yaml"), encoding: .utf8)
        let path = try Self.temporary("bom.yaml", "\u{FEFF}" + text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let plan = try BatonProcess.run(["plan", path, "--package", "exchange-2003-sp2"])
        #expect(plan.status == 0, "\(plan.stderr)")
    }

    @Test("the API reads no file it was not given: inline only by default, --inventories confines paths")
    func fileAccess() async throws {
        let state = BatonProcess.temporaryPath("hardening-state")
        let closed = try await ServeProcess(state: state, inventories: nil)
        let viewer = try closed.token("viewer", name: "vera")
        let passwd = try await closed.call(
            .POST, "/api/plans", token: viewer, body: ["package": "exchange-2003-sp2", "inventoryPath": "/etc/passwd"])
        #expect(
            passwd.status == 400 && !passwd.body.contains("root") && passwd.body.contains("inline"), "\(passwd.body)")
        closed.stop()

        let folder = BatonProcess.temporaryPath("inventories")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(
            atPath: BatonProcess.packageRoot.appendingPathComponent("examples/contoso.yaml").path,
            toPath: folder + "/contoso.yaml")
        try FileManager.default.createSymbolicLink(atPath: folder + "/escape.yaml", withDestinationPath: "/etc/passwd")
        let open = try await ServeProcess(state: state, inventories: folder)
        defer { open.stop() }
        let good = try await open.call(
            .POST, "/api/plans", token: viewer, body: ["package": "exchange-2003-sp2", "inventoryPath": "contoso.yaml"])
        #expect(good.status == 200, "\(good.body)")
        for path in ["/etc/passwd", "../../../../etc/passwd", "escape.yaml", "nosuch.yaml", "/etc/shadow"] {
            let refused = try await open.call(
                .POST, "/api/plans", token: viewer, body: ["package": "exchange-2003-sp2", "inventoryPath": path])
            #expect(refused.status == 400, "\(path): \(refused.body)")
            #expect(!refused.body.contains("root:") && !refused.body.contains("/bin/"), "\(path): \(refused.body)")
            #expect(refused.body.contains("no inventory"), "\(path): \(refused.body)")
        }
    }

    @Test("links, host names, origins and headers")
    func linksHostsHeaders() async throws {
        let server = try await ServeProcess(state: BatonProcess.temporaryPath("hardening-state"))
        defer { server.stop() }
        let operatorToken = try server.token("operator", name: "olga")
        let run: [String: Any] = [
            "package": "exchange-2003-sp2", "inventoryPath": "examples/contoso.yaml",
            "releaseNotes": "javascript:alert(document.domain)",
        ]
        let link = try await server.call(.POST, "/api/runs", token: operatorToken, body: run)
        #expect(link.status == 400 && link.body.contains("https://"), "\(link.body)")
        #expect(try await server.call(.GET, "/api/runs").status == 200)

        let rebound = try await server.call(.GET, "/api/runs", headers: [("Host", "attacker.example:8080")])
        #expect(rebound.status == 421, "\(rebound.body)")
        let dashboard = try await server.call(.GET, "/", headers: [("Host", "attacker.example")])
        #expect(dashboard.status == 421)
        var fromPage = run
        fromPage["releaseNotes"] = "https://example.com/notes"
        let cross = try await server.call(
            .POST, "/api/runs", token: operatorToken, body: fromPage, headers: [("Origin", "https://attacker.example")])
        #expect(cross.status == 421, "\(cross.body)")
        #expect(try await server.call(.GET, "/api/runs", headers: [("Host", "localhost")]).status == 200)

        let page = try await server.call(.GET, "/")
        for response in [page, try await server.call(.GET, "/api/runs"), rebound] {
            #expect(response.headers.first(name: "X-Frame-Options") == "DENY")
            #expect(response.headers.first(name: "X-Content-Type-Options") == "nosniff")
            #expect(response.headers.first(name: "Referrer-Policy") == "no-referrer")
            let policy = response.headers.first(name: "Content-Security-Policy") ?? ""
            #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'sha256-"), "\(policy)")
            #expect(!policy.contains("'unsafe-inline' 'unsafe-eval'") && !policy.contains("script-src 'unsafe-inline'"))
        }
    }

    @Test("reads need a token when required: expired and revoked tokens are refused")
    func readProtectionAndTokens() async throws {
        let state = BatonProcess.temporaryPath("hardening-state")
        let server = try await ServeProcess(state: state, extraArguments: ["--require-token-for-reads"])
        defer { server.stop() }
        let viewer = try server.token("viewer", name: "vera")
        for path in ["/api/runs", "/api/lab", "/metrics", "/api/runs/run-1/events"] {
            #expect(try await server.call(.GET, path).status == 401, "\(path)")
        }
        #expect(try await server.call(.GET, "/api/runs", token: viewer).status == 200)
        #expect(try await server.call(.GET, "/metrics", token: viewer).status == 200)
        let page = try await server.call(.GET, "/")
        #expect(page.status == 200 && page.body.contains("<script id=\"initial\" type=\"application/json\">null"))

        let brief = try BatonProcess.run([
            "token", "create", "--role", "viewer", "--name", "brief", "--expires", "1s", "--state", state,
        ])
        let short = brief.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await server.call(.GET, "/api/runs", token: short).status == 200)
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await server.call(.GET, "/api/runs", token: short).status == 401)
        #expect(try BatonProcess.run(["token", "revoke", "vera", "--state", state]).status == 0)
        #expect(try await server.call(.GET, "/api/runs", token: viewer).status == 401)
        let list = try BatonProcess.run(["token", "list", "--state", state])
        #expect(list.stdout.contains("brief") && list.stdout.contains("expired") && !list.stdout.contains(short))
        #expect(!list.stdout.contains("vera"))
    }

    @Test("idle event streams are capped (503 with Retry-After) and reads stay quick")
    func streams() async throws {
        let server = try await ServeProcess(
            state: BatonProcess.temporaryPath("hardening-state"), extraArguments: ["--max-streams", "40"])
        defer { server.stop() }
        let operatorToken = try server.token("operator", name: "olga")
        let started = try await server.call(
            .POST, "/api/runs", token: operatorToken,
            body: ["package": "exchange-2003-sp2", "inventoryPath": "examples/sbs-2003.yaml"])
        #expect(started.status == 201, "\(started.body)")
        let port = Int(server.url.split(separator: ":").last ?? "") ?? 0
        var open: [Int32] = []
        var statuses: [String: Int] = [:]
        for _ in 0..<60 {
            let (socket, status) = RawHTTP.get("/api/runs/run-1/events", port: port)
            statuses[status, default: 0] += 1
            if socket >= 0 { open.append(socket) }
        }
        defer { open.forEach { close($0) } }
        #expect(statuses["200"] == 5 && statuses["503"] == 55, "\(statuses)")
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try await server.call(.GET, "/api/runs").status == 200)
        // Answered, not held behind the open streams (which never end); the bound is loose
        // enough for a machine busy with every other suite.
        #expect(clock.now - start < .seconds(60))
        let (_, refused) = RawHTTP.get("/api/runs/run-1/events", port: port, keepOpen: false)
        #expect(refused == "503")
    }

    @Test("a client that never finishes its request's headers is disconnected")
    func slowHeaders() async throws {
        let server = try await ServeProcess(state: BatonProcess.temporaryPath("hardening-state"))
        defer { server.stop() }
        let port = Int(server.url.split(separator: ":").last ?? "") ?? 0
        let descriptor = RawHTTP.connect(port: port)
        defer { close(descriptor) }
        #expect(descriptor >= 0)
        _ = "GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".withCString { send(descriptor, $0, strlen($0), 0) }
        // Within the server's 15 seconds and a margin, the connection is closed: recv sees its end.
        var timeout = timeval(tv_sec: 25, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 64)
        let received = recv(descriptor, &buffer, buffer.count, 0)
        #expect(
            received == 0
                || (received > 0 && String(decoding: buffer[0..<received], as: UTF8.self).hasPrefix("HTTP/1.1 4")),
            "\(received)")
    }

    @Test("an organization larger than the server plans is refused with 413")
    func organizationSize() async throws {
        let server = try await ServeProcess(
            state: BatonProcess.temporaryPath("hardening-state"), extraArguments: ["--max-machines", "100"])
        defer { server.stop() }
        let viewer = try server.token("viewer", name: "vera")
        let big = try BatonProcess.run(["generate-inventory", "--servers", "500", "--clusters", "10"])
        let refused = try await server.call(
            .POST, "/api/plans", token: viewer, body: ["package": "exchange-2003-sp2", "inventory": big.stdout])
        #expect(refused.status == 413 && refused.body.contains("at most 100"), "\(refused.body.prefix(300))")
    }

    @Test("an argument-injecting address is refused before anything runs")
    func templateInjection() throws {
        let folder = BatonProcess.temporaryPath("injection")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let text = try Self.shellInventory(
            logTo: folder, mail: #"{address: "a -x --flag, b: c", via: local, profile: files}"#)
        let inventory = folder + "/inventory.yaml"
        try text.write(toFile: inventory, atomically: true, encoding: .utf8)
        let run = try BatonProcess.run([
            "run", inventory, "--package", "exchange-2003-sp2", "--state", folder + "/state", "--yes",
        ])
        #expect(run.status == 2, "\(run.stdout) \(run.stderr)")
        #expect(run.stderr.contains("{{address}}") && run.stderr.contains("not a plain name"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/log"), "nothing ran, not even DC1's backup")
        let status = try BatonProcess.run(["status", "--state", folder + "/state"])
        #expect(!status.stdout.contains("running"), "\(status.stdout)")
    }

    @Test("damaged state is detected and explained; read-only state can be inspected")
    func damagedState() throws {
        let state = BatonProcess.temporaryPath("hardening-state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let run = try BatonProcess.run([
            "run", "examples/sbs-2003.yaml", "--package", "exchange-2003-sp2", "--state", state, "--yes",
        ])
        #expect(run.status == 0)
        let journal = state + "/journal.sqlite"
        let mode = (try FileManager.default.attributesOfItem(atPath: journal)[.posixPermissions] as? Int) ?? 0
        #expect(mode & 0o077 == 0, "the journal is the owner's alone: \(String(mode, radix: 8))")
        let twinMode =
            (try FileManager.default.attributesOfItem(atPath: state + "/lab.json")[.posixPermissions] as? Int) ?? 0
        #expect(twinMode & 0o077 == 0)

        // Read-only: status and report still work for someone who may only read the folder
        // (as root, the check runs as nobody, since root writes anywhere).
        try expectReadOnlyInspection(state)

        // Random bytes in the middle of the file.
        _ = try BatonProcess.run(["status", "--state", state])
        let size = (try FileManager.default.attributesOfItem(atPath: journal)[.size] as? Int) ?? 0
        let handle = try #require(FileHandle(forUpdatingAtPath: journal))
        try handle.seek(toOffset: UInt64(max(4096, size / 2)))
        var generator = SystemRandomNumberGenerator()
        try handle.write(contentsOf: Data((0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        try handle.close()
        try? FileManager.default.removeItem(atPath: journal + "-wal")
        let damaged = try BatonProcess.run(["status", "--state", state])
        #expect(damaged.status == 1, "\(damaged.stdout) \(damaged.stderr)")
        #expect(damaged.stderr.contains("not a journal Baton can use"), "\(damaged.stderr)")
        #expect(!damaged.stderr.contains("NSCocoaErrorDomain") && !damaged.stderr.contains("See 'baton --help'"))

        // An empty file and a foreign one.
        for (name, bytes) in [("empty", Data()), ("foreign", Data("not a journal at all\n".utf8))] {
            let other = BatonProcess.temporaryPath("hardening-\(name)")
            try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: other) }
            _ = FileManager.default.createFile(atPath: other + "/journal.sqlite", contents: bytes)
            let refused = try BatonProcess.run(["status", "--state", other])
            #expect(refused.status == 1 && refused.stderr.contains("not a journal Baton can use"), "\(refused.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: other + "/journal.sqlite")) == bytes, "left as it was")
        }

        // --state naming a file.
        let file = try Self.temporary("state-file", "x")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let wrong = try BatonProcess.run(["status", "--state", file])
        #expect(wrong.status == 2 && wrong.stderr.contains("is a file"), "\(wrong.stderr)")
    }

    func expectReadOnlyInspection(
        _ state: String, expecting word: String = "completed", sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        var prefix: [String] = []
        var binary = BatonProcess.executable.path
        let copy = BatonProcess.temporaryPath("readonly-baton")
        defer { try? FileManager.default.removeItem(atPath: copy) }
        if getuid() == 0 {
            guard let setpriv = BatonProcess.which("setpriv") else {
                Issue.record(
                    "no setpriv to run as another user: apt-get install util-linux", sourceLocation: sourceLocation)
                return
            }
            // nobody must reach the binary and read the state.
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            // Copied by cp, not by this process: a file this process has open for writing is
            // inherited by any command another test starts meanwhile, and executing it then
            // fails ("Text file busy") until that command ends.
            let copied = try BatonProcess.run(["__exec", "/bin/cp", binary, copy + "/baton"])
            #expect(copied.status == 0, "\(copied.stderr)", sourceLocation: sourceLocation)
            chmod(copy, 0o755)
            binary = copy + "/baton"
            prefix = ["__exec", setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", binary]
            for file in (try? FileManager.default.contentsOfDirectory(atPath: state)) ?? [] {
                chmod(state + "/" + file, 0o644)
            }
            chmod(state, 0o755)
        } else {
            chmod(state, 0o500)
            prefix = ["__exec", binary]
        }
        defer {
            chmod(state, 0o700)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: state)) ?? [] {
                chmod(state + "/" + file, 0o600)
            }
        }
        let status = try BatonProcess.run(prefix + ["status", "run-1", "--state", state])
        #expect(
            status.status == 0 && status.stdout.contains(word), "\(status.stdout) \(status.stderr)",
            sourceLocation: sourceLocation)
        let report = try BatonProcess.run(prefix + ["report", "run-1", "--state", state])
        #expect(
            report.status == 0 && report.stdout.contains(word), "\(report.stdout.prefix(300)) \(report.stderr)",
            sourceLocation: sourceLocation)
    }

    @Test("a run still being written is read whole by someone who may only read the state directory")
    func readOnlyWhileWriting() async throws {
        let state = BatonProcess.temporaryPath("hardening-live")
        defer { try? FileManager.default.removeItem(atPath: state) }
        // Slow enough that it is still running, its commits in the write-ahead log, when read.
        let owner = try BackgroundBaton([
            "run", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--state", state, "--yes", "--speed",
            "20", "--json",
        ])
        try await owner.waitFor("\"event\":\"succeeded\"")
        try expectReadOnlyInspection(state, expecting: "running")
        kill(owner.pid, SIGKILL)
        _ = await owner.wait()
    }

    @Test("two processes on a fresh state directory never see raw SQLite errors")
    func freshStateRace() async throws {
        for _ in 0..<5 {
            let state = BatonProcess.temporaryPath("hardening-race")
            defer { try? FileManager.default.removeItem(atPath: state) }
            let arguments = [
                "run", "examples/sbs-2003.yaml", "--package", "exchange-2003-sp2", "--state", state, "--yes",
            ]
            let first = try BackgroundBaton(arguments), second = try BackgroundBaton(arguments)
            let statuses = [await first.wait(), await second.wait()]
            let output = first.output + second.output
            #expect(
                !output.contains("SQLite") && !output.contains("UNIQUE constraint")
                    && !output.contains("already exists"), "\(output)")
            #expect(statuses.contains(0) && !statuses.contains(2), "\(statuses): \(output)")
        }
    }

    @Test("a second approval through the API is refused and the first approver stays")
    func approvalOnce() async throws {
        let server = try await ServeProcess(state: BatonProcess.temporaryPath("hardening-state"))
        defer { server.stop() }
        let operatorToken = try server.token("operator", name: "olga")
        let anna = try server.token("approver", name: "anna"), max = try server.token("approver", name: "max")
        let started = try await server.call(
            .POST, "/api/runs", token: operatorToken,
            body: ["package": "exchange-2003-sp2", "inventoryPath": "examples/sbs-2003.yaml"])
        #expect(started.status == 201)
        let gate: [String: Any] = ["gate": "release-notes"]
        #expect(try await server.call(.POST, "/api/runs/run-1/approvals", token: anna, body: gate).status == 201)
        let again = try await server.call(.POST, "/api/runs/run-1/approvals", token: max, body: gate)
        // The run may have completed in between (the twin at instant speed): refused all the same.
        #expect(
            again.status == 409 && (again.body.contains("anna") || again.body.contains("completed already")),
            "\(again.body)")
        let detail = try await server.call(.GET, "/api/runs/run-1")
        let gates = detail.object["gates"] as? [[String: Any]] ?? []
        #expect(gates.first?["by"] as? String == "anna")
    }
}

/// A bare HTTP/1.1 GET on a loopback port, for many connections at once: returns the socket
/// (left open when `keepOpen`) and the status code read from the first line.
enum RawHTTP {
    /// A TCP connection to the loopback port, or -1.
    static func connect(port: Int) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            return -1
        }
        return descriptor
    }

    /// Sends `request` as it is on a connection of its own and returns the first answer read
    /// (up to 8 KiB, waiting at most 30 s), or "" when none came.
    static func exchange(_ request: String, port: Int) -> String {
        let descriptor = connect(port: port)
        defer { close(descriptor) }
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 8192)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
    }

    static func get(_ path: String, port: Int, keepOpen: Bool = true) -> (Int32, String) {
        let descriptor = connect(port: port)
        guard descriptor >= 0 else { return (-1, "connect") }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n"
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        let head = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
        let status = head.split(separator: " ").dropFirst().first.map(String.init) ?? "none"
        if !keepOpen || status != "200" {
            close(descriptor)
            return (-1, status)
        }
        return (descriptor, status)
    }
}

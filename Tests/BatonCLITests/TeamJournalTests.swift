import BatonTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The journal on a real PostgreSQL server, shared by several controllers: the same commands
/// and the same JSON as with SQLite, standbys adopting a run whose controller died, and a
/// server restarted in the middle of a run.
@Suite("A team's journal on PostgreSQL", .serialized)
struct TeamJournalTests {
    static let contoso = ["examples/contoso.yaml", "--package", "exchange-2003-sp2"]

    /// A document with what differs between two runs of the same thing taken out: times,
    /// process ids and host names.
    static func normalized(_ json: String) throws -> NSDictionary {
        func clean(_ value: Any) -> Any {
            if let object = value as? [String: Any] {
                var result: [String: Any] = [:]
                for (key, value) in object where !["at", "heartbeat", "pid", "host", "created"].contains(key) {
                    result[key] = clean(value)
                }
                return result
            }
            if let array = value as? [Any] { return array.map(clean) }
            return value
        }
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8))
        return try #require(clean(object) as? [String: Any]) as NSDictionary
    }

    @Test("the same commands give the same JSON with --journal postgres:// as with the state directory's SQLite")
    func sameCommandsSameJSON() async throws {
        let server = try PostgresServer.shared()
        let address = try server.newDatabase()
        let local = BatonProcess.temporaryPath("team-sqlite"), shared = BatonProcess.temporaryPath("team-pg")
        defer {
            try? FileManager.default.removeItem(atPath: local)
            try? FileManager.default.removeItem(atPath: shared)
        }
        var documents: [[NSDictionary]] = []
        for journal in [[], ["--journal", address]] {
            let state = journal.isEmpty ? local : shared
            // One step at a time: the twin's history is then in one order on both backends.
            let run = try BatonProcess.run(
                ["run"] + Self.contoso + ["--state", state, "--yes", "--parallel", "1"] + journal)
            #expect(run.status == 0, "\(run.stdout.suffix(600)) \(run.stderr)")
            var outputs: [NSDictionary] = []
            for command in [
                ["status", "run-1", "--format", "json"], ["report", "run-1", "--format", "json"],
                ["lab", "show", "--format", "json"],
            ] {
                let result = try BatonProcess.run(command + ["--state", state] + journal)
                #expect(result.status == 0, "\(command): \(result.stderr)")
                outputs.append(try Self.normalized(result.stdout))
                #expect(!result.stdout.contains(server.password) && !result.stderr.contains(server.password))
            }
            documents.append(outputs)
            #expect(!run.stdout.contains(server.password) && !run.stderr.contains(server.password))
        }
        #expect(documents[0] == documents[1])
        // With PostgreSQL, nothing is kept in the state directory: the twin is in the journal.
        #expect(!FileManager.default.fileExists(atPath: shared + "/journal.sqlite"))
        #expect(!FileManager.default.fileExists(atPath: shared + "/lab.json"))
        // Another machine (another state directory) sees the run; BATON_JOURNAL is read too.
        let elsewhere = try BatonProcess.run(
            [
                "__exec", "/usr/bin/env", "BATON_JOURNAL=\(address)", BatonProcess.executable.path, "status", "--state",
                BatonProcess.temporaryPath("team-elsewhere"),
            ])
        #expect(elsewhere.status == 0 && elsewhere.stdout.contains("run-1"), "\(elsewhere.stdout) \(elsewhere.stderr)")
        #expect(elsewhere.stdout.contains("completed"))
        // Tokens made on one machine are the server's on another.
        let token = try BatonProcess.run(
            ["token", "create", "--role", "approver", "--name", "olga", "--journal", address, "--state", local])
        #expect(token.status == 0)
        let list = try BatonProcess.run(["token", "list", "--journal", address, "--state", shared])
        #expect(list.stdout.contains("olga"), "\(list.stdout) \(list.stderr)")
    }

    @Test(
        "a journal address Baton cannot use is refused with exit 2; a server that refuses, or a wrong password, exit 1")
    func badAddresses() throws {
        for address in [
            "mysql://baton@db1/baton", "postgres://db1/baton", "postgres://baton@db1/", "sqlite:",
            "postgres://baton:secret@db1/baton?sslmode=sometimes",
        ] {
            let result = try BatonProcess.run(["status", "--journal", address])
            #expect(result.status == 2, "\(address): \(result.stderr)")
            #expect(result.stderr.contains("is not a journal address Baton can use"), "\(result.stderr)")
            #expect(!result.stderr.contains("secret"), "a password is never printed: \(result.stderr)")
        }
        let closed = try BatonProcess.run(
            ["status", "--journal", "postgres://baton:secret@127.0.0.1:1/baton?sslmode=disable"])
        #expect(closed.status == 1, "\(closed.stderr)")
        #expect(closed.stderr.contains("cannot be reached") && !closed.stderr.contains("secret"), "\(closed.stderr)")
        #expect(closed.stderr.contains("refused"), "a refused connection says so at once: \(closed.stderr)")
        // A wrong password: PostgreSQL's reason, at once, and the password nowhere.
        let server = try PostgresServer.shared()
        let wrong = try BatonProcess.run(
            [
                "status", "--journal",
                "postgres://\(server.user):not-\(server.password)@127.0.0.1:\(server.port)/postgres?sslmode=disable",
            ])
        #expect(wrong.status == 1, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("password authentication failed"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains(server.password), "\(wrong.stderr)")
    }

    @Test("live events reach a server's streams through LISTEN/NOTIFY, for a run another machine drives")
    func eventsWithoutPolling() async throws {
        let server = try PostgresServer.shared()
        let address = try server.newDatabase()
        let database = String(address.split(separator: "/").last?.split(separator: "?").first ?? "")
        let watcher = BatonProcess.temporaryPath("team-watch"), driver = BatonProcess.temporaryPath("team-drive")
        defer {
            try? FileManager.default.removeItem(atPath: watcher)
            try? FileManager.default.removeItem(atPath: driver)
        }
        let serve = try await ServeProcess(state: watcher, extraArguments: ["--journal", address, "--no-adopt"])
        defer { serve.stop() }
        var listening = ""
        for _ in 0..<600 {
            listening = try server.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%baton_transition%'", database: database
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            if listening == "1" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(listening == "1", "the server listens for the journal's announcements")
        // Slow enough that the stream is open while the run goes; it is stopped at the end.
        let run = try BackgroundBaton(
            ["run"] + Self.contoso + ["--state", driver, "--yes", "--speed", "400", "--journal", address])
        var shown = false
        for _ in 0..<2400 {
            shown = try await serve.call(.GET, "/api/runs/run-1").status == 200
            if shown { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(shown, "the server shows the run: \(run.output)")
        // The first transitions announced after the stream opened, while the run goes on.
        let events = try await serve.events(of: "run-1") { events in
            events.filter { $0.name == "transition" }.count >= 2 || events.last?.name == "end"
        }
        #expect(events.filter { $0.name == "transition" }.count >= 2, "\(events.map(\.name)): \(run.output)")
        #expect(run.process.isRunning, "the events came while the run went on: \(run.output)")
    }

    /// Two `baton serve` on one journal; the one driving a lab run is killed (-9), or the
    /// database server is stopped for 10 s meanwhile. The run ends completed, every install
    /// once, no virtual server left offline.
    func failover(stopDatabase: Bool) async throws -> Duration {
        // A server of its own when the test stops it.
        let own = stopDatabase ? try PostgresServer() : nil
        defer { own?.stop() }
        let server = try own ?? PostgresServer.shared()
        let address = try server.newDatabase()
        let first = BatonProcess.temporaryPath("team-a"), second = BatonProcess.temporaryPath("team-b")
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        let options = ["--journal", address, "--lease-expiry", "3"]
        let driver = try await ServeProcess(state: first, extraArguments: options)
        let standby = try await ServeProcess(state: second, extraArguments: options)
        defer {
            driver.stop()
            standby.stop()
        }
        let created = try BatonProcess.run(
            ["token", "create", "--role", "operator", "--name", "olga", "--state", first] + options.prefix(2))
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let started = try await driver.call(
            .POST, "/api/runs", token: token,
            body: [
                "package": "exchange-2003-sp2", "inventoryPath": "examples/contoso.yaml", "speed": "200",
                "approveAll": true,
            ])
        #expect(started.status == 201, "\(started.body)")
        try await driver.waitForSucceeded(6)
        if stopDatabase {
            try server.kill()
            try await Task.sleep(for: .seconds(10))
            try server.start()
        }
        try await driver.waitForSucceeded(9)
        let killed = Date()
        kill(driver.process.processIdentifier, SIGKILL)
        _ = await driver.process.ended()
        var adopted = false
        for _ in 0..<1200 {
            let run = try await standby.call(.GET, "/api/runs/run-1").object
            let owner = run["owner"] as? [String: Any]
            adopted = adopted || owner?["pid"] as? Int == Int(standby.process.processIdentifier)
            if run["state"] as? String == "completed" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let final = try await standby.call(.GET, "/api/runs/run-1").object
        #expect(final["state"] as? String == "completed", "\(final) \(standby.log.suffix(1500))")
        #expect(adopted, "the standby became the run's owner: \(standby.log.suffix(1500))")
        try OwnershipTests.expectEveryInstallOnce(first, journal: address)
        // When, by the standby's own clock (its log, to the second), not by when this process,
        // busy with every other suite, got to look.
        let line = try #require(
            standby.log.split(separator: "\n").first { $0.contains("adopted run run-1") }, "\(standby.log.suffix(1500))"
        )
        let stamp = DateFormatter()
        stamp.locale = Locale(identifier: "en_US_POSIX")
        stamp.dateFormat = "yyyy-MM-dd'T'HH:mm:ssZ"
        let logged = try #require(stamp.date(from: String(line.prefix { $0 != " " })), "\(line)")
        // The log keeps whole seconds: the adoption came before the next one.
        return .seconds(logged.timeIntervalSince(killed) + 1)
    }

    @Test("kill -9 of the controller driving a run: a standby adopts it within the lease time and completes it")
    func standbyAdopts() async throws {
        let adopted = try await failover(stopDatabase: false)
        print("standby adopted run-1 at most \(adopted) after the kill (lease 3 s)")
        // Three seconds of lease, then a watcher that looks every second.
        #expect(adopted < .seconds(8), "adopted after \(adopted)")
    }

    @Test(
        "the database server stopped for 10 s mid-run (past the 3 s lease): the run goes on, driven by its owner or a standby, then a standby adopts it after a kill"
    )
    func databaseRestart() async throws {
        _ = try await failover(stopDatabase: true)
    }
}

/// Several lab twins in one state directory or journal: each run rehearses on its own, at once.
@Suite("Named lab twins")
struct NamedTwinTests {
    @Test("two lab runs on two twins of one journal rehearse at once", arguments: ["sqlite", "postgres"])
    func twoTwinsAtOnce(backend: String) async throws {
        let state = BatonProcess.temporaryPath("named-twins")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let journal = backend == "postgres" ? ["--journal", try PostgresServer.shared().newDatabase()] : []
        let common = ["--package", "exchange-2003-sp2", "--state", state, "--yes", "--speed", "3000"] + journal
        // Both at once; without --wait, a run that found its twin held would be refused (exit 1).
        let results = try await BatonProcess.runTogether([
            ["run", "examples/contoso.yaml", "--twin", "blue", "--run", "blue-1"] + common,
            ["run", "examples/mixed.yaml", "--twin", "green", "--run", "green-1"] + common,
        ])
        let outputs = results.map { $0.stdout + $0.stderr }
        #expect(results.map(\.status) == [0, 0], "\(outputs.map { $0.suffix(600) })")
        #expect(outputs[0].contains("on the lab twin 'blue'"), "\(outputs[0].prefix(400))")
        for (twin, organization) in [("blue", "contoso"), ("green", "mixed")] {
            let show = try BatonProcess.run(
                ["lab", "show", "--twin", twin, "--format", "json", "--state", state] + journal)
            #expect(show.status == 0, "\(show.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
            #expect(object["organization"] as? String == organization)
            #expect((object["history"] as? [Any])?.isEmpty == false)
        }
        let status = try BatonProcess.run(["status", "blue-1", "--format", "json", "--state", state] + journal)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(document["twin"] as? String == "blue" && document["state"] as? String == "completed")
        // The default twin was never made.
        let none = try BatonProcess.run(["lab", "show", "--state", state] + journal)
        #expect(none.status == 2 && none.stderr.contains("no lab twin"), "\(none.stderr)")
        #expect(none.stderr.contains("twins kept there: blue, green; name one with --twin"), "\(none.stderr)")
        // A report reads the run's own twin.
        let report = try BatonProcess.run(["report", "green-1", "--state", state] + journal)
        #expect(report.status == 0, "\(report.stderr)")
    }

    @Test("a twin's name is checked: exit 2, saying what a name may hold")
    func badName() throws {
        let state = BatonProcess.temporaryPath("named-twins-bad")
        defer { try? FileManager.default.removeItem(atPath: state) }
        for command in [
            ["run", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--twin", "../x"],
            ["lab", "show", "--twin", ""],
        ] {
            let result = try BatonProcess.run(command + ["--state", state])
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("--twin takes a name of 1 to 64 letters"), "\(result.stderr)")
        }
    }
}

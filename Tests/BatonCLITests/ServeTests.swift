import AsyncHTTPClient
import Foundation
import NIOHTTP1
import NIOSSL
import Testing

/// `baton serve`, the real binary on a loopback port, driven only through its HTTP API.
@Suite("baton serve", .serialized)
struct ServeTests {
    @Test("a lab run through the API alone: create, watch events, approve the gate, get the report")
    func runThroughTheAPI() async throws {
        let server = try await ServeProcess(state: BatonProcess.temporaryPath("serve-run"))
        defer { server.stop() }
        let operatorToken = try server.token("operator", name: "olga")
        let approverToken = try server.token("approver", name: "alice")

        let created = try await server.call(
            .POST, "/api/runs", token: operatorToken,
            body: [
                "package": "exchange-2003-sp2", "inventoryPath": "examples/e2003-two-node-cluster.yaml",
                "releaseNotes": "https://example.org/sp2/release-notes",
            ])
        #expect(created.status == 201, "\(created.body)")
        #expect(created.headers.first(name: "Location") == "/api/runs/run-1")
        let steps = try #require(created.object["steps"] as? [[String: Any]])

        // Watch the run; approve the gate once it is all that is left, then wait for the end.
        let approver = Task {
            for _ in 0..<600 {
                let run = try await server.call(.GET, "/api/runs/run-1").object
                let gates = run["gates"] as? [[String: Any]] ?? []
                if gates.first?["state"] as? String == "waiting" {
                    let steps = run["steps"] as? [[String: Any]] ?? []
                    // Everything the gate does not hold back has run: the engine is waiting, alive.
                    if !steps.contains(where: { $0["state"] as? String == "running" }) {
                        #expect(run["state"] as? String == "running")
                        #expect(gates.first?["releaseNotes"] as? String == "https://example.org/sp2/release-notes")
                        return try await server.call(
                            .POST, "/api/runs/run-1/approvals", token: approverToken, body: ["gate": "release-notes"])
                    }
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw ServeError(description: "the gate never waited")
        }
        let events = try await server.events(of: "run-1") { events in events.last?.name == "end" }
        let approval = try await approver.value
        #expect(approval.status == 201, "\(approval.body)")

        #expect(events.first?.name == "snapshot")
        #expect(events.last?.data.contains("\"completed\"") == true)
        let succeeded = Set(
            events.filter { $0.name == "transition" }.compactMap { event -> String? in
                guard let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any],
                    object["state"] as? String == "succeeded"
                else { return nil }
                return object["step"] as? String
            })
        // Every step not done before the stream opened is seen succeeding, live.
        #expect(succeeded.count >= steps.count - 10)
        #expect(succeeded.contains(steps.last?["id"] as? String ?? "?"))

        let report = try await server.call(.GET, "/api/runs/run-1/report")
        #expect(report.status == 200)
        #expect(report.object["state"] as? String == "completed")
        #expect((report.object["violations"] as? [Any])?.isEmpty == true)
        let approvals = try #require(report.object["approvals"] as? [[String: Any]])
        #expect(approvals.first?["by"] as? String == "alice")
        let audit = try #require(report.object["audit"] as? [[String: Any]])
        #expect(audit.first?["action"] as? String == "started" && audit.first?["by"] as? String == "olga")
        let servers = try #require(report.object["virtualServers"] as? [[String: Any]])
        #expect(servers.map { $0["after"] as? String } == ["6.5.7638.2"])
        let text = try await server.call(.GET, "/api/runs/run-1/report?format=text")
        #expect(text.body.contains("no rule of KB 328839 was violated"))

        let lab = try await server.call(.GET, "/api/lab")
        let clusters = try #require(lab.object["clusters"] as? [[String: Any]])
        let groups = clusters.flatMap { $0["groups"] as? [[String: Any]] ?? [] }
        #expect(groups.contains { $0["name"] as? String == "EVS1" && $0["online"] as? Bool == true })

        let metrics = try await server.call(.GET, "/metrics")
        #expect(metrics.body.contains("baton_steps{state=\"succeeded\",action=\"install\"}"))
        #expect(metrics.body.contains("baton_step_duration_seconds_count{action=\"install\"}"))
        #expect(metrics.body.contains("baton_runs{state=\"completed\"} 1"))
        #expect(metrics.body.contains("baton_virtual_server_offline_seconds{virtual_server=\"EVS1\"}"))
        #expect(!server.log.contains(operatorToken) && !server.log.contains(approverToken))
    }

    @Test("unauthorised and wrong-role calls are refused with 401 or 403 and change nothing")
    func refusals() async throws {
        let server = try await ServeProcess(state: BatonProcess.temporaryPath("serve-auth"))
        defer { server.stop() }
        let viewer = try server.token("viewer", name: "vera")
        let approver = try server.token("approver", name: "alice")
        let operatorToken = try server.token("operator", name: "olga")
        let run: [String: Any] = ["package": "exchange-2003-sp2", "inventoryPath": "examples/contoso.yaml"]

        let none = try await server.call(.POST, "/api/runs", body: run)
        #expect(none.status == 401)
        #expect(none.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true)
        #expect(try await server.call(.POST, "/api/runs", token: "baton_not-a-token", body: run).status == 401)
        #expect(try await server.call(.POST, "/api/runs", token: viewer, body: run).status == 403)
        #expect(try await server.call(.POST, "/api/runs", token: approver, body: run).status == 403)
        #expect(try await server.call(.POST, "/api/plans", body: run).status == 401)
        #expect(try await server.call(.GET, "/api/runs").body == "[]")

        // A run to act on (it waits at its gate), then the wrong roles try to approve and abort it.
        #expect(try await server.call(.POST, "/api/runs", token: operatorToken, body: run).status == 201)
        let gate: [String: Any] = ["gate": "release-notes"]
        #expect(
            try await server.call(.POST, "/api/runs/run-1/approvals", token: operatorToken, body: gate).status == 403)
        #expect(try await server.call(.POST, "/api/runs/run-1/approvals", body: gate).status == 401)
        #expect(try await server.call(.POST, "/api/runs/run-1/abort", token: approver).status == 403)
        #expect(try await server.call(.POST, "/api/runs/run-1/abort", token: viewer).status == 403)
        #expect(try await server.call(.POST, "/api/runs/run-1/resume").status == 401)
        let run1 = try await server.call(.GET, "/api/runs/run-1").object
        #expect(run1["state"] as? String == "running")
        #expect((run1["gates"] as? [[String: Any]])?.first?["by"] == nil)

        // The right role aborts it, and the audit trail says who.
        #expect(try await server.call(.POST, "/api/runs/run-1/abort", token: operatorToken).status == 202)
        let aborted = try await server.events(of: "run-1", within: .seconds(120)) { $0.last?.name == "end" }
        #expect(aborted.last?.data.contains("aborted") == true)
        let report = try await server.call(.GET, "/api/runs/run-1/report").object
        let audit = report["audit"] as? [[String: Any]] ?? []
        #expect(audit.map { "\($0["action"] ?? "") \($0["by"] ?? "")" } == ["started olga", "aborted olga"])
        #expect((report["virtualServers"] as? [[String: Any]] ?? []).allSatisfy { $0["online"] as? Bool == true })
    }

    @Test("bad requests: every problem of an inventory located, a refusal naming its rule, unknown keys")
    func badInput() async throws {
        let server = try await ServeProcess(state: BatonProcess.temporaryPath("serve-bad"))
        defer { server.stop() }
        let token = try server.token("operator", name: "olga")
        let broken = """
            organization: contoso
            servers:
              - name: FE1
                product: exchange-2033
                level: sp9
                rol: front-end
            """
        let reply = try await server.call(
            .POST, "/api/runs", token: token, body: ["package": "exchange-2003-sp2", "inventory": broken])
        #expect(reply.status == 400)
        let problems = reply.object["problems"] as? [String] ?? []
        #expect(problems.count >= 2, "\(reply.body)")
        #expect(problems.allSatisfy { $0.hasPrefix("inventory.yaml:") && $0.contains(": error: ") })
        #expect(problems.contains { $0.hasPrefix("inventory.yaml:6:") })

        let refused = try await server.call(
            .POST, "/api/plans", token: token,
            body: ["package": "exchange-2003-sp2", "inventoryPath": "examples/e2003-migration.yaml"])
        #expect(refused.status == 422)
        #expect(refused.object["rule"] as? String == "e2003-clean-install-migration")

        let typo = try await server.call(
            .POST, "/api/runs", token: token,
            body: ["package": "exchange-2003-sp2", "inventoryPath": "examples/contoso.yaml", "aproveAll": true])
        #expect(typo.status == 400)
        #expect(
            typo.object["error"] as? String ?? ""
                == "unknown key 'aproveAll'; this call takes approveAll, freshLab, inventory, inventoryPath, lab, limit, name, package, parallel, plan, releaseNotes, speed, to, twin"
        )
        #expect(try await server.call(.GET, "/api/runs").body == "[]")

        let plan = try await server.call(
            .POST, "/api/plans", token: token,
            body: ["package": "exchange-2003-sp2", "inventoryPath": "examples/contoso.yaml", "format": "json"])
        let local = try BatonProcess.run([
            "plan", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--format", "json",
        ])
        #expect(plan.status == 200)
        #expect(plan.body == local.stdout.trimmingCharacters(in: .newlines) || plan.body == local.stdout)
        #expect(try await server.call(.GET, "/api/runs/nope").status == 404)
        #expect(try await server.call(.GET, "/api/runs/nope/events").status == 404)
    }

    @Test("SIGTERM lets running steps finish, leaves the run resumable, and a new server resumes it")
    func gracefulShutdown() async throws {
        let state = BatonProcess.temporaryPath("serve-stop")
        var server = try await ServeProcess(state: state)
        let token = try server.token("operator", name: "olga")
        let started = try await server.call(
            .POST, "/api/runs", token: token,
            body: [
                "package": "exchange-2003-sp2", "inventoryPath": "examples/e2003-two-node-cluster.yaml", "speed": "200",
                "approveAll": true,
            ])
        #expect(started.status == 201)
        // Stop it early (at 200 times real speed, a minute of work is left; the drain waits at
        // most one install, 12 s), so the stop comes mid-run even on a loaded machine.
        try await server.waitForSucceeded(12)
        #expect(server.stop() == 0)
        // It said what it waited for.
        #expect(server.log.contains("shutting down: run run-1 starts no new step and waits for"), "\(server.log.suffix(1500))")
        let status = try BatonProcess.run(["status", "run-1", "--state", state, "--format", "json"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let steps = document["steps"] as? [[String: Any]] ?? []
        #expect(document["state"] as? String == "halted")
        #expect(!steps.contains { $0["state"] as? String == "running" })
        #expect(steps.contains { $0["state"] as? String == "blocked" })

        server = try await ServeProcess(state: state)
        defer { server.stop() }
        let resumed = try await server.call(.POST, "/api/runs/run-1/resume", token: token, body: ["speed": "instant"])
        #expect(resumed.status == 202, "\(resumed.body)")
        let events = try await server.events(of: "run-1") { $0.last?.name == "end" }
        #expect(events.last?.data.contains("completed") == true)
        // Each install happened once on the twin.
        let lab = try BatonProcess.run(["lab", "show", "--state", state, "--format", "json"])
        let twin = try #require(try JSONSerialization.jsonObject(with: Data(lab.stdout.utf8)) as? [String: Any])
        let history = twin["history"] as? [[String: Any]] ?? []
        let installs = history.filter { $0["action"] as? String == "install" && $0["succeeded"] as? Bool == true }
            .compactMap { $0["step"] as? String }
        #expect(!installs.isEmpty)
        #expect(installs.count == Set(installs).count)
    }

    @Test("HTTPS with the certificate and key given")
    func tls() async throws {
        guard let openssl = BatonProcess.which("openssl") else {
            Issue.record("openssl is not installed: cannot make a test certificate")
            return
        }
        let state = BatonProcess.temporaryPath("serve-tls")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let made = try BatonProcess.run([
            "__exec", openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-keyout", state + "/key.pem", "-out", state + "/cert.pem",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let server = try await ServeProcess(
            state: state, extraArguments: ["--tls-certificate", state + "/cert.pem", "--tls-key", state + "/key.pem"])
        defer { server.stop() }
        #expect(server.url.hasPrefix("https://"))
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = .makeClientConfiguration()
        configuration.tlsConfiguration?.certificateVerification = .none
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let response = try await client.execute(HTTPClientRequest(url: server.url + "/api/runs"), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        try await client.shutdown()
        #expect(response.status == .ok)
        #expect(String(buffer: body) == "[]")

        let missing = try BatonProcess.run([
            "serve", "--state", state, "--port", "0", "--tls-certificate", state + "/none.pem", "--tls-key",
            state + "/key.pem",
        ])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot use the certificate"))
    }

    @Test("a saved plan through the API: run as saved; refused when edited (400) or made from another inventory (422)")
    func savedPlanThroughTheAPI() async throws {
        let state = BatonProcess.temporaryPath("serve-saved")
        let file = state + "-plan.json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let saved = try await BatonProcess.finish([
            "plan", "examples/mx-monthly-mixed.yaml", "--to", "latest", "--limit", "DAG2", "--out", file,
        ])
        #expect(saved.status == 0, "\(saved.stderr)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let server = try await ServeProcess(state: state)
        defer { server.stop() }
        let operatorToken = try server.token("operator", name: "olga")

        let edited = try await server.call(
            .POST, "/api/runs", token: operatorToken,
            body: [
                "plan": text.replacingOccurrences(of: "\"drain-transport\"", with: "\"server-offline\""),
                "inventoryPath": "examples/mx-monthly-mixed.yaml",
            ])
        #expect(edited.status == 400, "\(edited.body)")
        #expect(edited.body.contains("differs from the plan its inventory gives"), "\(edited.body)")

        let inventory = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent("examples/mx-monthly-mixed.yaml"), encoding: .utf8)
        let other = try await server.call(
            .POST, "/api/runs", token: operatorToken, body: ["plan": text, "inventory": inventory + "# changed\n"])
        #expect(other.status == 422, "\(other.body)")
        #expect(other.object["rule"] as? String == "saved-plan", "\(other.body)")

        let both = try await server.call(
            .POST, "/api/runs", token: operatorToken,
            body: ["plan": text, "package": "exchange-2019-cu15", "inventoryPath": "examples/mx-monthly-mixed.yaml"])
        #expect(both.status == 400, "\(both.body)")

        let created = try await server.call(
            .POST, "/api/runs", token: operatorToken,
            body: ["plan": text, "inventoryPath": "examples/mx-monthly-mixed.yaml", "approveAll": true])
        #expect(created.status == 201, "\(created.body)")
        let events = try await server.events(of: "run-1") { events in events.last?.name == "end" }
        #expect(events.last?.data.contains("\"completed\"") == true)
        let report = try await server.call(.GET, "/api/runs/run-1/report")
        let digest = try #require(text.split(separator: "\"").drop { $0 != "digest" }.dropFirst(2).first)
        #expect(report.body.contains(String(digest)), "\(report.body.prefix(400))")

        // The same target through the API, planned there, on another twin.
        let target = try await server.call(
            .POST, "/api/runs", token: operatorToken,
            body: [
                "to": "latest", "limit": "site:branch", "inventoryPath": "examples/mx-monthly-mixed.yaml",
                "twin": "monthly", "approveAll": true,
            ])
        #expect(target.status == 201, "\(target.body)")
    }
}

import Foundation
import Testing

/// Notifications as the people on call get them: a real webhook receiver, Teams and Slack
/// shapes, a real SMTP server with STARTTLS; a receiver that is down, a controller killed.
@Suite("Notifications")
struct NotificationTests {
    /// A folder with `example` copied to `org.yaml` and `extra` appended (its `notify:`).
    static func folder(_ prefix: String, _ example: String, _ extra: String) throws -> BatonProcess.UserFolder {
        let folder = try BatonProcess.UserFolder(prefix)
        let text = try String(contentsOfFile: "\(folder.path)/\(example)", encoding: .utf8)
        try (text + "\n" + extra).write(toFile: "\(folder.path)/org.yaml", atomically: true, encoding: .utf8)
        return folder
    }

    /// The webhook's events, by `X-Baton-Event`.
    static func events(_ requests: [WebhookReceiver.Request], path: String = "/hook") -> [String] {
        requests.filter { $0.path == path }.compactMap { $0.headers["x-baton-event"] }
    }

    /// HMAC-SHA256 of `body` under `secret`, as Python's hmac module computes it.
    static func hmac(_ body: Data, secret: String) throws -> String {
        let file = BatonProcess.temporaryPath("body")
        try body.write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try BatonProcess.run([
            "__exec", "/usr/bin/env", "python3", "-c",
            "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), open(sys.argv[2],'rb').read(), hashlib.sha256).hexdigest())",
            secret, file,
        ])
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(
        "a failed step, the halt with what is out of service, and the end: each once, in order, signed; Teams and Slack in their shapes"
    )
    func everyEventSigned() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { try? await receiver.down() } }
        let folder = try Self.folder(
            "notify-events", "examples/mx-two-member-dag.yaml",
            """
            dashboard: https://baton.contoso.com/
            notify:
              - webhook: \(receiver.url)
                secret-env: HOOK_SECRET
              - teams: http://127.0.0.1:\(receiver.port)/teams
              - slack: http://127.0.0.1:\(receiver.port)/slack
                events: [run-halted, run-completed]
            """)
        defer { folder.remove() }
        _ = try folder.shell("baton lab init org.yaml")
        _ = try folder.shell("baton lab fault bare-setup NW-EX1")
        let halted = try folder.shell("HOOK_SECRET=s3cret baton run org.yaml --package exchange-2016-cu23 --yes")
        #expect(halted.status == 1, "\(halted.stderr)")
        // The run waits (at most --notify-wait) for what it owes: it is there when it ends.
        #expect(Self.events(receiver.received) == ["step-failed", "run-halted"], "\(receiver.received.map(\.path))")
        _ = try folder.shell("baton lab fix bare-setup NW-EX1")
        let resumed = try folder.shell("HOOK_SECRET=s3cret baton resume run-1 --yes")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let requests = receiver.received
        #expect(Self.events(requests) == ["step-failed", "run-halted", "run-completed"])

        let hooks = requests.filter { $0.path == "/hook" }
        var last: Int64 = 0
        for hook in hooks {
            let body = hook.json
            // Signed with the secret from the environment, over the exact body.
            let signature = try #require(hook.headers["x-baton-signature-256"])
            #expect(signature == "sha256=" + (try Self.hmac(hook.body, secret: "s3cret")))
            #expect(hook.headers["x-baton-delivery"] == body["id"] as? String)
            #expect(hook.headers["content-type"] == "application/json")
            for key in ["id", "event", "run", "organization", "sequence", "at", "state", "message", "title", "link"] {
                #expect(body[key] != nil, "\(key) missing in \(body)")
            }
            #expect(body["link"] as? String == "https://baton.contoso.com/#run-1")
            let sequence = try #require(body["sequence"] as? Int64 ?? (body["sequence"] as? Int).map(Int64.init))
            #expect(sequence > last)
            last = sequence
        }
        let failed = hooks[0].json
        #expect(failed["host"] as? String == "NW-EX1")
        #expect(failed["action"] as? String == "verify-version")
        #expect(failed["state"] as? String == "failed")
        let halt = hooks[1].json
        let out = try #require(halt["outOfService"] as? [String])
        #expect(out.contains { $0.hasPrefix("NW-EX1 is in DAG maintenance mode") }, "\(out)")
        #expect(halt["resume"] as? String == "baton resume run-1")
        #expect((halt["message"] as? String ?? "").contains("verify-version on NW-EX1"), "\(halt)")

        // Teams: an Adaptive Card in a message; every event, as it has no events: list.
        let teams = requests.filter { $0.path == "/teams" }
        #expect(teams.count == 3)
        let card = try #require((teams[1].json["attachments"] as? [[String: Any]])?.first)
        #expect(teams[1].json["type"] as? String == "message")
        #expect(card["contentType"] as? String == "application/vnd.microsoft.card.adaptive")
        let content = try #require(card["content"] as? [String: Any])
        #expect(content["type"] as? String == "AdaptiveCard")
        #expect(content["$schema"] as? String == "http://adaptivecards.io/schemas/adaptive-card.json")
        let blocks = try #require(content["body"] as? [[String: Any]])
        #expect(blocks.first?["text"] as? String == "Baton run-1 (northwind): halted")
        #expect(blocks.contains { ($0["text"] as? String)?.contains("Out of service now:") == true })
        let actions = try #require(content["actions"] as? [[String: Any]])
        #expect(actions.first?["url"] as? String == "https://baton.contoso.com/#run-1")
        #expect(teams.allSatisfy { $0.headers["x-baton-signature-256"] == nil })

        // Slack: only the events it asked for, with text and blocks.
        let slack = requests.filter { $0.path == "/slack" }
        #expect(
            slack.map { $0.json["text"] as? String } == [
                "Baton run-1 (northwind): halted", "Baton run-1 (northwind): completed",
            ])
        let slackBlocks = try #require(slack[0].json["blocks"] as? [[String: Any]])
        #expect(slackBlocks.map { $0["type"] as? String } == ["header", "section"])
    }

    @Test("a gate that waits, and a maintenance window the run waits for, are told")
    func gateAndWindow() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { try? await receiver.down() } }
        let folder = try Self.folder("notify-wait", "examples/mixed.yaml", "notify:\n  - webhook: \(receiver.url)\n")
        defer { folder.remove() }
        // No --yes and no terminal: the release-notes gate waits, and the run halts there.
        let gated = try folder.shell("baton run org.yaml --package exchange-2003-sp2 --run gated")
        #expect(gated.status == 1)
        #expect(Self.events(receiver.received) == ["gate-waiting", "run-halted"], "\(gated.stdout.suffix(400))")
        let gate = receiver.received[0].json
        #expect((gate["message"] as? String ?? "").hasPrefix("waiting for approval of gate"), "\(gate)")
        // Rehearsed from 21:00 on a Saturday, the run waits for the 22:00 window (the twin's time).
        let waited = try folder.shell(
            "baton run org.yaml --package exchange-2003-sp2 --run night --yes --speed 3600 --state night"
                + " --window 'Sat 22:00-Sun 21:00 UTC' --rehearse-at 2026-12-05T21:00:00Z")
        #expect(waited.status == 0, "\(waited.stderr)")
        let night = receiver.received.filter { ($0.json["run"] as? String) == "night" }.compactMap {
            $0.headers["x-baton-event"]
        }
        #expect(night == ["waiting-for-window", "run-completed"])
    }

    @Test("a receiver that is down never holds the run up; its messages arrive once it is back, in order, once each")
    func receiverDown() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { try? await receiver.down() } }
        try await receiver.down()
        let folder = try Self.folder(
            "notify-down", "examples/e2003-two-node-cluster.yaml", "notify:\n  - webhook: \(receiver.url)\n")
        defer { folder.remove() }
        _ = try folder.shell("baton lab init org.yaml")
        _ = try folder.shell("baton lab fault evs-upgrade-fails EVS1")
        let halted = try folder.shell("baton run org.yaml --package exchange-2003-sp2 --yes --notify-wait 1")
        #expect(halted.status == 1)
        #expect(halted.stderr.contains("notifications of run-1 to webhook are not delivered yet"), "\(halted.stderr)")
        #expect(halted.stderr.contains("cannot be reached"), "\(halted.stderr)")
        _ = try folder.shell("baton lab fix evs-upgrade-fails EVS1")
        let resumed = try folder.shell("baton resume run-1 --yes --notify-wait 0")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(receiver.received.isEmpty)
        let status = try folder.shell("baton status run-1")
        #expect(status.stdout.contains("Notifications not yet delivered"), "\(status.stdout.suffix(600))")

        try await receiver.up()
        let sent = try folder.shell("baton notify send")
        #expect(sent.status == 0, "\(sent.stdout) \(sent.stderr)")
        let events = Self.events(receiver.received)
        #expect(events == ["step-failed", "run-halted", "run-completed"], "\(events)")
        let ids = receiver.received.compactMap { $0.headers["x-baton-delivery"] }
        #expect(Set(ids).count == ids.count, "sent twice: \(ids)")
        let sequences = receiver.received.compactMap { $0.json["sequence"] as? Int }
        #expect(sequences == sequences.sorted())
        // Nothing is owed any more: a second send sends nothing.
        let again = try folder.shell("baton notify send")
        #expect(again.status == 0)
        #expect(receiver.received.count == ids.count)
    }

    @Test("a controller killed with SIGKILL and resumed: the interruption is told, nothing twice, nothing lost")
    func killedController() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { try? await receiver.down() } }
        let folder = try Self.folder("notify-kill", "examples/mixed.yaml", "notify:\n  - webhook: \(receiver.url)\n")
        defer { folder.remove() }
        let state = "\(folder.path)/.baton"
        var killed = false
        for attempt in 0..<5 where !killed {
            try? FileManager.default.removeItem(atPath: state)
            killed = try await BatonProcess.kill(
                [
                    "run", "\(folder.path)/org.yaml", "--package", "exchange-2003-sp2", "--state", state, "--run", "r",
                    "--yes", "--speed", "400",
                ],
                once: state + "/journal.sqlite", after: .milliseconds(400 + 300 * Int64(attempt)))
        }
        try #require(killed, "the run ended before it could be killed")
        let resumed = try BatonProcess.run(["resume", "r", "--state", state, "--yes", "--speed", "instant"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let events = Self.events(receiver.received)
        #expect(events == ["run-interrupted", "run-completed"], "\(events)")
        let interrupted = receiver.received[0].json
        #expect((interrupted["message"] as? String ?? "").contains("its controller"), "\(interrupted)")
        let ids = receiver.received.compactMap { $0.headers["x-baton-delivery"] }
        #expect(Set(ids).count == ids.count)
    }

    @Test("baton notify test reaches every receiver, and says which one does not")
    func notifyTest() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { try? await receiver.down() } }
        let folder = try Self.folder(
            "notify-test", "examples/mixed.yaml",
            """
            notify:
              - webhook: \(receiver.url)
                secret-file: hook.secret
              - name: on-call
                teams: http://127.0.0.1:\(receiver.port)/teams
            """)
        defer { folder.remove() }
        try "t0ps3cret\n".write(toFile: "\(folder.path)/hook.secret", atomically: true, encoding: .utf8)
        let ok = try folder.shell("baton notify test org.yaml")
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        #expect(ok.stdout.contains("ok      webhook: webhook 127.0.0.1"))
        #expect(ok.stdout.contains("ok      on-call: teams 127.0.0.1"))
        let hook = try #require(receiver.received.first { $0.path == "/hook" })
        #expect(hook.headers["x-baton-event"] == "test")
        #expect(hook.headers["x-baton-signature-256"] == "sha256=" + (try Self.hmac(hook.body, secret: "t0ps3cret")))

        receiver.status.withLock { $0 = .serviceUnavailable }
        let refused = try folder.shell("baton notify test org.yaml")
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("failed  webhook: webhook 127.0.0.1: it answered 503"), "\(refused.stdout)")

        try FileManager.default.removeItem(atPath: "\(folder.path)/hook.secret")
        receiver.status.withLock { $0 = .ok }
        let noSecret = try folder.shell("baton notify test org.yaml")
        #expect(noSecret.status == 1)
        #expect(noSecret.stdout.contains("its secret cannot be read from file hook.secret"), "\(noSecret.stdout)")

        let none = try folder.shell("baton notify test examples/mixed.yaml")
        #expect(none.status == 2)
        #expect(none.stderr.contains("has no notify: receivers"))
    }

    @Test("notify: mistakes are located, all at once; a secret written in the inventory is refused")
    func badNotify() throws {
        let folder = try Self.folder(
            "notify-bad", "examples/mixed.yaml",
            """
            notify:
              - webhook: ftp://hooks.contoso.com/x
                secret: hunter2
              - slack: https://hooks.slack.com/services/T/B/X
                events: [run-halted, step-faild]
              - email: not-an-address
                from: baton@contoso.com
            """)
        defer { folder.remove() }
        let plan = try folder.shell("baton plan org.yaml --package exchange-2003-sp2")
        #expect(plan.status == 2)
        let lines = plan.stderr.split(separator: "\n").map(String.init)
        let expected = [
            "is not an http or https address", "a secret is never kept in the inventory",
            "'step-faild' is not an event", "did you mean 'step-failed'?", "is not an email address",
            "missing required key 'smtp'",
        ]
        for text in expected {
            #expect(lines.contains { $0.hasPrefix("org.yaml:") && $0.contains(text) }, "\(text)\n\(plan.stderr)")
        }
    }
}

/// `baton serve` sends what every run owes, and takes `notify:` inline only from an admin.
@Suite("Notifications through baton serve")
struct ServeNotificationTests {
    @Test("what a run left owed is sent by baton serve; an operator's inline notify: is refused, an admin's sent")
    func serveSends() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { try? await receiver.down() } }
        try await receiver.down()
        let folder = try NotificationTests.folder(
            "notify-serve", "examples/e2003-standalone.yaml", "notify:\n  - webhook: \(receiver.url)\n")
        defer { folder.remove() }
        let run = try folder.shell("baton run org.yaml --package exchange-2003-sp2 --yes --notify-wait 0")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(receiver.received.isEmpty)
        try await receiver.up()
        let server = try await ServeProcess(state: "\(folder.path)/.baton", inventories: folder.path)
        defer { server.stop() }
        let delivered = try await receiver.wait { NotificationTests.events($0) == ["run-completed"] }
        #expect(NotificationTests.events(delivered) == ["run-completed"], "\(server.log.suffix(800))")

        let text = try String(contentsOfFile: "\(folder.path)/org.yaml", encoding: .utf8)
        let body: [String: Any] = [
            "package": "exchange-2003-sp2", "inventory": text, "approveAll": true, "lab": true, "name": "inline",
        ]
        let refused = try await server.call(
            .POST, "/api/runs", token: try server.token("operator", name: "olga"), body: body)
        #expect(refused.status == 403, "\(refused.body)")
        #expect((refused.object["problems"] as? [String] ?? []).contains { $0.contains("'notify'") }, "\(refused.body)")
        let taken = try await server.call(
            .POST, "/api/runs", token: try server.token("admin", name: "adam"), body: body)
        #expect(taken.status == 201, "\(taken.body)")
        let both = try await receiver.wait { NotificationTests.events($0).count == 2 }
        #expect(NotificationTests.events(both) == ["run-completed", "run-completed"])
        #expect(both.last?.json["run"] as? String == "inline")
    }
}

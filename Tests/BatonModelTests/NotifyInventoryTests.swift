import BatonModel
import Testing

/// `notify:` and `dashboard:` as the inventory reader takes them.
@Suite("notify: in the inventory")
struct NotifyInventoryTests {
    static let base = """
        organization: Contoso
        servers:
          - {name: MAIL1, product: exchange-2003, level: sp1, os: windows-2003}
        """

    static func read(_ extra: String) throws -> Inventory {
        try InventoryLoader.parse(text: base + "\n" + extra, file: "org.yaml", reservedPackageIDs: [])
    }

    @Test("every kind of receiver, named by kind or by name:, with the events it hears and where its secrets are read")
    func receivers() throws {
        let inventory = try Self.read(
            """
            dashboard: https://baton.contoso.com
            notify:
              - webhook: https://hooks.contoso.com/baton
                secret-env: BATON_HOOK_SECRET
                events: [step-failed, run-halted]
              - webhook: https://other.contoso.com/x
                secret-file: /etc/baton/hook.secret
              - name: exchange-channel
                teams: https://contoso.webhook.office.com/webhookb2/abc
              - slack: https://hooks.slack.com/services/T/B/X
              - email: [oncall@contoso.com, exchange@contoso.com]
                from: baton@contoso.com
                smtp: smtp.contoso.com
                username: baton
                password-file: /etc/baton/smtp.password
            """)
        #expect(inventory.dashboard == "https://baton.contoso.com")
        let receivers = inventory.notify
        #expect(receivers.map(\.name) == ["webhook", "webhook-2", "exchange-channel", "slack", "email"])
        #expect(receivers[0].secret == .environment("BATON_HOOK_SECRET"))
        #expect(receivers[0].events == [.stepFailed, .runHalted])
        #expect(receivers[0].hears(.runHalted) && !receivers[0].hears(.runCompleted) && receivers[0].hears(.test))
        #expect(receivers[1].secret == .file("/etc/baton/hook.secret"))
        #expect(receivers[2].kind == .teams && receivers[3].kind == .slack)
        let email = receivers[4]
        #expect(email.to == ["oncall@contoso.com", "exchange@contoso.com"])
        #expect(email.smtpAddress?.host == "smtp.contoso.com" && email.smtpAddress?.port == 587)
        #expect(email.startTLS && email.password == .file("/etc/baton/smtp.password"))
        // A notify: makes the controller act on the inventory's say: an admin's to give.
        #expect(inventory.controllerPowers.map(\.key) == ["notify"])
    }

    @Test("--notify knows Teams and Slack by their addresses")
    func commandLine() {
        #expect(Receiver.fromCommandLine("https://hooks.slack.com/services/T/B/X", secret: nil).kind == .slack)
        #expect(Receiver.fromCommandLine("https://contoso.webhook.office.com/webhookb2/x", secret: nil).kind == .teams)
        let hook = Receiver.fromCommandLine("https://hooks.contoso.com/x", secret: .environment("S"))
        #expect(hook.kind == .webhook && hook.secret == .environment("S"))
    }

    @Test("every mistake located at once")
    func mistakes() throws {
        do {
            _ = try Self.read(
                """
                dashboard: not a url
                notify:
                  - webhook: https://a.contoso.com/x
                    teams: https://b.contoso.com/y
                  - teams: https://contoso.webhook.office.com/x
                    secret-env: S
                  - email: oncall@contoso.com
                    from: baton@contoso.com
                    smtp: smtp.contoso.com:99999
                    username: baton
                  - webhook: https://a.contoso.com/x
                    secret-file: a
                    secret-env: B
                """)
            Issue.record("no error")
        } catch let error as InventoryErrors {
            let text = error.description
            for expected in [
                "org.yaml:4:12: error: dashboard:", "exactly one of webhook, teams, slack, email (found 2)",
                "only a webhook receiver is signed with a secret", "is not a server such as smtp.contoso.com:587",
                "needs password-file or password-env", "give secret-file or secret-env, not both",
            ] {
                #expect(text.contains(expected), "\(expected)\n\(text)")
            }
        }
    }
}

import Foundation
import Testing

/// Email through a real SMTP server (aiosmtpd, from PyPI) that requires STARTTLS and a logon.
@Suite("Email notifications")
struct SMTPNotificationTests {
    /// aiosmtpd on a free loopback port, its certificate made by openssl for `localhost`; each
    /// message it takes written to `folder/mail` with its envelope.
    final class SMTPServer {
        let process: Process
        let port: Int
        let folder: String

        init(folder: String, startTLS: Bool) throws {
            guard (try? BatonProcess.run(["__exec", "/usr/bin/env", "python3", "-c", "import aiosmtpd"]).status) == 0
            else {
                throw TestFailure("the email tests need aiosmtpd: python3 -m pip install aiosmtpd")
            }
            self.folder = folder
            try FileManager.default.createDirectory(atPath: "\(folder)/mail", withIntermediateDirectories: true)
            let certificate = try BatonProcess.run([
                "__exec", "/usr/bin/env", "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", "\(folder)/key.pem",
                "-out", "\(folder)/cert.pem",
            ])
            guard certificate.status == 0 else { throw TestFailure("openssl: \(certificate.stderr)") }
            try Self.script.write(toFile: "\(folder)/server.py", atomically: true, encoding: .utf8)
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "\(folder)/server.py", folder, startTLS ? "starttls" : "plain"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.launchSerially()
            let line = String(decoding: output.fileHandleForReading.availableLine(), as: UTF8.self)
            guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                process.terminate()
                throw TestFailure("the SMTP server did not start: '\(line)'")
            }
            self.port = port
        }

        func stop() { process.terminate() }

        /// The messages taken so far: each one's envelope (JSON) and text.
        var messages: [(envelope: [String: Any], text: String)] {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/mail")) ?? []).filter {
                $0.hasSuffix(".json")
            }.sorted()
            return names.compactMap { name in
                guard let data = FileManager.default.contents(atPath: "\(folder)/mail/\(name)"),
                    let envelope = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                else { return nil }
                return (envelope, envelope["text"] as? String ?? "")
            }
        }

        static let script = #"""
            import asyncio, json, os, socket, ssl, sys, time
            from aiosmtpd.controller import Controller
            from aiosmtpd.smtp import AuthResult
            from email import message_from_bytes
            folder, mode = sys.argv[1], sys.argv[2]
            class Save:
                async def handle_DATA(self, server, session, envelope):
                    message = message_from_bytes(envelope.original_content)
                    record = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "tls": session.ssl is not None,
                              "login": (session.login_data or b"").decode(), "subject": message["Subject"],
                              "event": message["X-Baton-Event"], "text": message.get_payload(decode=True).decode()}
                    name = os.path.join(folder, "mail", "%d" % time.time_ns())
                    with open(name + ".tmp", "w") as f: json.dump(record, f)
                    os.rename(name + ".tmp", name + ".json")
                    return "250 OK"
            def check(server, session, envelope, mechanism, auth_data):
                ok = auth_data.login == b"baton" and auth_data.password == b"pw-from-env"
                return AuthResult(success=ok, handled=False, auth_data=auth_data)
            probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]; probe.close()
            if mode == "starttls":
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem"))
                controller = Controller(Save(), hostname="127.0.0.1", port=port, tls_context=context,
                                        require_starttls=True, authenticator=check, auth_required=True)
            else:
                controller = Controller(Save(), hostname="127.0.0.1", port=port)
            controller.start()
            print(port, flush=True)
            while True: time.sleep(3600)
            """#
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    @Test("a halted run's email goes through STARTTLS and AUTH PLAIN, with what is out of service")
    func startTLS() async throws {
        let folder = try BatonProcess.UserFolder("notify-smtp")
        defer { folder.remove() }
        let server = try SMTPServer(folder: "\(folder.path)/smtp", startTLS: true)
        defer { server.stop() }
        let text = try String(contentsOfFile: "\(folder.path)/examples/mx-two-member-dag.yaml", encoding: .utf8)
        try
            (text + """

                notify:
                  - email: [oncall@northwind.example, exchange-team@northwind.example]
                    from: baton@northwind.example
                    smtp: localhost:\(server.port)
                    ca-file: smtp/cert.pem
                    username: baton
                    password-env: SMTP_PASSWORD
                    events: [run-halted]
                """).write(toFile: "\(folder.path)/org.yaml", atomically: true, encoding: .utf8)
        let test = try folder.shell("SMTP_PASSWORD=pw-from-env baton notify test org.yaml")
        #expect(test.status == 0, "\(test.stdout) \(test.stderr)")
        _ = try folder.shell("baton lab init org.yaml")
        _ = try folder.shell("baton lab fault bare-setup NW-EX1")
        let run = try folder.shell("SMTP_PASSWORD=pw-from-env baton run org.yaml --package exchange-2016-cu23 --yes")
        #expect(run.status == 1)
        let messages = server.messages
        #expect(messages.count == 2, "\(messages.map(\.envelope))")
        for message in messages {
            #expect(message.envelope["tls"] as? Bool == true)
            #expect(message.envelope["login"] as? String == "baton")
            #expect(message.envelope["from"] as? String == "baton@northwind.example")
            #expect(
                message.envelope["to"] as? [String] == ["oncall@northwind.example", "exchange-team@northwind.example"])
        }
        #expect(messages.map { $0.envelope["event"] as? String } == ["test", "run-halted"])
        let halted = try #require(messages.last)
        #expect(halted.envelope["subject"] as? String == "Baton run-1 (northwind): halted")
        #expect(halted.text.contains("Out of service now:"), "\(halted.text)")
        #expect(halted.text.contains("NW-EX1 is in DAG maintenance mode"))
        #expect(halted.text.contains("To continue: baton resume run-1"))

        // A wrong password is refused by the server, and said.
        let wrong = try folder.shell("SMTP_PASSWORD=nope baton notify test org.yaml")
        #expect(wrong.status == 1)
        #expect(wrong.stdout.contains("answered AUTH PLAIN with 535"), "\(wrong.stdout)")
    }

    @Test("a server that offers no STARTTLS gets no mail, and says so")
    func noStartTLS() async throws {
        let folder = try BatonProcess.UserFolder("notify-plain")
        defer { folder.remove() }
        let server = try SMTPServer(folder: "\(folder.path)/smtp", startTLS: false)
        defer { server.stop() }
        let text = try String(contentsOfFile: "\(folder.path)/examples/mixed.yaml", encoding: .utf8)
        try
            (text + """

                notify:
                  - email: oncall@contoso.example
                    from: baton@contoso.example
                    smtp: 127.0.0.1:\(server.port)
                """).write(toFile: "\(folder.path)/org.yaml", atomically: true, encoding: .utf8)
        let test = try folder.shell("baton notify test org.yaml")
        #expect(test.status == 1)
        #expect(test.stdout.contains("does not offer STARTTLS; Baton sends no mail in the clear"), "\(test.stdout)")
        #expect(server.messages.isEmpty)
    }
}

extension FileHandle {
    /// Reads up to the first line break (the server's port), at most 64 bytes.
    func availableLine() -> Data {
        var line = Data()
        while line.count < 64 {
            let byte = readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        return line
    }
}

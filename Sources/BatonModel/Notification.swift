import Foundation

/// What a notification tells: one kind per event a person on call hears about.
public enum NotificationKind: String, Sendable, Codable, CaseIterable, Hashable {
    /// A gate waits for its approval.
    case gateWaiting = "gate-waiting"
    case stepFailed = "step-failed"
    case runHalted = "run-halted"
    /// Its controller stopped without ending it (its owner lost); another took it over.
    case runInterrupted = "run-interrupted"
    case waitingForWindow = "waiting-for-window"
    case runCompleted = "run-completed"
    case runAborted = "run-aborted"
    /// `baton notify test`.
    case test
}

/// Where a secret is read when a message is sent: never from the inventory itself.
public enum SecretSource: Sendable, Hashable, Codable {
    case file(String)
    case environment(String)

    /// The secret, its surrounding white space trimmed; nil when the file or variable is not
    /// there.
    public func read() -> String? {
        let text: String?
        switch self {
        case .file(let path): text = try? String(contentsOfFile: path, encoding: .utf8)
        case .environment(let name): text = ProcessInfo.processInfo.environment[name]
        }
        return text?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// For messages: "file /etc/baton/hook.secret", "environment variable BATON_HOOK_SECRET".
    public var label: String {
        switch self {
        case .file(let path): "file \(path)"
        case .environment(let name): "environment variable \(name)"
        }
    }
}

/// One receiver of a run's notifications (`notify:` in the inventory, `--notify URL`).
public struct Receiver: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// JSON (`docs/notifications.md`), signed with HMAC-SHA256 when it has a secret.
        case webhook
        /// A Microsoft Teams incoming webhook (a Workflows "post to a channel when a webhook
        /// request is received"), sent an Adaptive Card.
        case teams
        /// A Slack incoming webhook, sent `text` and `blocks`.
        case slack
        /// Email through SMTP, with STARTTLS.
        case email
    }

    /// Unique within the inventory: `name:`, or the kind (then `-2`, `-3`… for more).
    public var name: String
    public var kind: Kind
    /// The webhook's address (webhook, Teams, Slack).
    public var url: String?
    /// A webhook's HMAC secret.
    public var secret: SecretSource?
    /// The events it hears of; nil for all.
    public var events: [NotificationKind]?
    /// Email: who it goes to, from whom, through which server.
    public var to: [String] = []
    public var from: String?
    /// `host` or `host:port` (587 when no port is given).
    public var smtp: String?
    /// STARTTLS before anything is sent (the default); false only for a relay that offers none.
    public var startTLS: Bool = true
    /// Certificates (PEM) that the SMTP server's certificate is checked against, beside the
    /// system's.
    public var caFile: String?
    public var username: String?
    public var password: SecretSource?

    public init(name: String, kind: Kind, url: String? = nil, secret: SecretSource? = nil) {
        self.name = name
        self.kind = kind
        self.url = url
        self.secret = secret
    }

    /// Whether it hears of `kind` (a test reaches every receiver).
    public func hears(_ kind: NotificationKind) -> Bool {
        kind == .test || events.map { $0.contains(kind) } ?? true
    }

    /// The SMTP server's host and port.
    public var smtpAddress: (host: String, port: Int)? {
        guard let smtp else { return nil }
        if let colon = smtp.lastIndex(of: ":"), let port = Int(smtp[smtp.index(after: colon)...]) {
            return (String(smtp[..<colon]), port)
        }
        return (smtp, 587)
    }

    /// Where it goes, for messages (no secret; a Teams or Slack address's path is one).
    public var label: String {
        switch kind {
        case .email: "email to \(to.joined(separator: ", ")) through \(smtp ?? "?")"
        case .webhook, .teams, .slack:
            "\(kind.rawValue) \(url.flatMap { URL(string: $0)?.host } ?? "?")"
        }
    }

    /// A webhook at `url` from `--notify`: a Teams or Slack address by its host, else generic.
    public static func fromCommandLine(_ url: String, secret: SecretSource?) -> Receiver {
        let host = URL(string: url)?.host?.lowercased() ?? ""
        let kind: Kind =
            host == "hooks.slack.com"
            ? .slack
            : host.hasSuffix(".webhook.office.com") || host.hasSuffix(".logic.azure.com") ? .teams : .webhook
        return Receiver(name: "--notify", kind: kind, url: url, secret: kind == .webhook ? secret : nil)
    }

    /// Every `--notify URL` of a command, signed with `--notify-secret-file` or else
    /// `BATON_NOTIFY_SECRET` when it is set; named `--notify`, or `--notify-1`, `--notify-2`….
    public static func fromCommandLine(_ urls: [String], secretFile: String?) -> [Receiver] {
        let secret: SecretSource? =
            secretFile.map(SecretSource.file)
            ?? (ProcessInfo.processInfo.environment["BATON_NOTIFY_SECRET"] != nil
                ? .environment("BATON_NOTIFY_SECRET") : nil)
        return urls.enumerated().map { index, url in
            var receiver = fromCommandLine(url, secret: secret)
            if urls.count > 1 { receiver.name += "-\(index + 1)" }
            return receiver
        }
    }

    /// Why `text` is not a webhook address Baton sends to; nil when it is one.
    public static func problem(url text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else { return "'\(text.prefix(200))' is not an http or https address" }
        return nil
    }
}

import BatonModel
import Crypto
import Foundation

/// What each kind of receiver is sent: a body and its headers.
public struct OutgoingMessage: Sendable {
    public var body: Data
    public var headers: [(name: String, value: String)]
}

extension RunNotification {
    /// The HTTP request body and headers for a webhook, Teams or Slack receiver.
    /// - A generic webhook gets the notification's JSON, with `X-Baton-Event`,
    ///   `X-Baton-Delivery` (the event's id) and, when it has a secret,
    ///   `X-Baton-Signature-256: sha256=HEX`, the HMAC-SHA256 of the body under the secret.
    /// - Teams gets an Adaptive Card in a `message` (Microsoft Learn, "Send Adaptive Cards using
    ///   an Incoming Webhook"; Workflows' "When a Teams webhook request is received" takes the same).
    /// - Slack gets `text` (the fallback and notification line) and `blocks` (Slack's
    ///   "Sending messages using incoming webhooks").
    public func message(for kind: Receiver.Kind, secret: String?) -> OutgoingMessage {
        let jsonType = [(name: "Content-Type", value: "application/json")]
        switch kind {
        case .webhook:
            let body = json()
            var headers = [
                ("Content-Type", "application/json"), ("X-Baton-Event", event.rawValue), ("X-Baton-Delivery", id),
            ]
            if let secret { headers.append(("X-Baton-Signature-256", Self.signature(body, secret: secret))) }
            return OutgoingMessage(body: body, headers: headers.map { (name: $0.0, value: $0.1) })
        case .teams:
            return OutgoingMessage(body: Self.encode(teamsCard), headers: jsonType)
        case .slack:
            return OutgoingMessage(body: Self.encode(slackMessage), headers: jsonType)
        case .email:
            return OutgoingMessage(body: Data(lines.joined(separator: "\n").utf8), headers: [])
        }
    }

    /// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: what a receiver computes to
    /// check that the message came from its Baton.
    public static func signature(_ body: Data, secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
    }

    var teamsCard: JSONValue {
        var body: [JSONValue] = [
            .object(["type": "TextBlock", "text": .string(title), "weight": "Bolder", "size": "Medium", "wrap": true])
        ]
        if !message.isEmpty { body.append(.object(["type": "TextBlock", "text": .string(message), "wrap": true])) }
        var facts: [JSONValue] = [.object(["title": "Run", "value": .string(run)])]
        if let step { facts.append(.object(["title": "Step", "value": .string(step)])) }
        if let host { facts.append(.object(["title": "Server", "value": .string(host)])) }
        facts.append(.object(["title": "State", "value": .string(state)]))
        if let rule { facts.append(.object(["title": "Rule", "value": .string(rule)])) }
        facts.append(.object(["title": "At", "value": .string(at)]))
        body.append(.object(["type": "FactSet", "facts": .array(facts)]))
        if !outOfService.isEmpty {
            body.append(
                .object([
                    "type": "TextBlock", "wrap": true,
                    "text": .string("Out of service now:\n\n" + outOfService.map { "- \($0)" }.joined(separator: "\n")),
                ]))
        }
        if let resume {
            body.append(.object(["type": "TextBlock", "text": .string("To continue: \(resume)"), "wrap": true]))
        }
        var card: [String: JSONValue] = [
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
            "body": .array(body),
        ]
        if let link {
            card["actions"] = .array([
                .object(["type": "Action.OpenUrl", "title": "Open the run", "url": .string(link)])
            ])
        }
        return .object([
            "type": "message",
            "attachments": .array([
                .object([
                    "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": .null,
                    "content": .object(card),
                ])
            ]),
        ])
    }

    var slackMessage: JSONValue {
        var text = lines.dropFirst().filter { $0 != link }.joined(separator: "\n")
        if let link { text += "\n<\(link)|Open the run>" }
        return .object([
            "text": .string(title),
            "blocks": .array([
                .object([
                    "type": "header",
                    "text": .object(["type": "plain_text", "text": .string(String(title.prefix(150)))]),
                ]),
                .object([
                    "type": "section", "text": .object(["type": "mrkdwn", "text": .string(String(text.prefix(3000)))]),
                ]),
            ]),
        ])
    }

    static func encode(_ value: JSONValue) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}

/// A JSON value, for the shapes Teams and Slack define.
indirect enum JSONValue: Sendable, Hashable, Encodable, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    case string(String)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    init(stringLiteral value: String) { self = .string(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let text): try container.encode(text)
        case .bool(let flag): try container.encode(flag)
        case .array(let items): try container.encode(items)
        case .object(let fields): try container.encode(fields)
        case .null: try container.encodeNil()
        }
    }
}

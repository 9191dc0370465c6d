/// `notify:` and `dashboard:`: who hears of a run, and where their messages link to.
extension InventoryReader {
    static let receiverKinds = Receiver.Kind.allCases.map(\.rawValue)
    static let receiverKeys =
        receiverKinds + [
            "name", "events", "secret-file", "secret-env", "from", "smtp", "starttls", "ca-file", "username",
            "password-file", "password-env", "secret", "password",
        ]

    mutating func readNotify(_ node: YAMLNode) -> [Receiver] {
        guard let items = fields.list(node, "notify") else { return [] }
        var receivers: [Receiver] = []
        var names = Set<String>()
        for item in items {
            guard let map = fields.mapping(item, "a receiver", allowed: Self.receiverKeys) else { continue }
            let kinds = map.entries.filter { Self.receiverKinds.contains($0.name) }
            guard kinds.count == 1, let entry = kinds.first, let kind = Receiver.Kind(rawValue: entry.name) else {
                fields.fail(
                    map.node,
                    "a receiver needs exactly one of \(Self.receiverKinds.joined(separator: ", ")) (found \(kinds.count))"
                )
                continue
            }
            for key in ["secret", "password"] where map[key] != nil {
                fields.fail(
                    map[key]!,
                    "a \(key) is never kept in the inventory: name where it is read with \(key)-file or \(key)-env")
            }
            var receiver = Receiver(name: kind.rawValue, kind: kind)
            switch kind {
            case .webhook, .teams, .slack:
                if let url = fields.string(entry.value, kind.rawValue) {
                    if let problem = Receiver.problem(url: url) {
                        fields.fail(entry.value, "\(kind.rawValue): \(problem)")
                    }
                    receiver.url = url
                }
            case .email:
                receiver.to = addresses(entry.value)
                if let node = required(map, "smtp", in: "an email receiver"), let smtp = fields.string(node, "smtp") {
                    receiver.smtp = smtp
                    if receiver.smtpAddress.map({ $0.host.isEmpty || !(1...65535).contains($0.port) }) ?? true {
                        fields.fail(node, "smtp '\(smtp.prefix(200))' is not a server such as smtp.contoso.com:587")
                    }
                }
                if let node = required(map, "from", in: "an email receiver") { receiver.from = address(node, "from") }
                receiver.startTLS = map["starttls"].flatMap { fields.bool($0, "starttls") } ?? true
                receiver.caFile = map["ca-file"].flatMap { fields.string($0, "ca-file") }
                receiver.username = map["username"].flatMap { fields.string($0, "username") }
                receiver.password = secretSource(map, "password")
                if receiver.username != nil, receiver.password == nil {
                    fields.fail(map.node, "an email receiver with a username needs password-file or password-env")
                }
            }
            receiver.secret = secretSource(map, "secret")
            if receiver.secret != nil, kind != .webhook {
                fields.fail(map.node, "only a webhook receiver is signed with a secret (\(kind.rawValue) is not)")
            }
            if let list = map["events"].flatMap({ fields.list($0, "events") }) {
                var events: [NotificationKind] = []
                for eventNode in list {
                    guard let text = fields.string(eventNode, "an event") else { continue }
                    guard let event = NotificationKind(rawValue: text), event != .test else {
                        let known = NotificationKind.allCases.filter { $0 != .test }.map(\.rawValue)
                        fields.fail(
                            eventNode,
                            "'\(text.prefix(100))' is not an event (\(known.joined(separator: ", ")))"
                                + Spelling.didYouMean(text, among: known))
                        continue
                    }
                    events.append(event)
                }
                receiver.events = events
            }
            if let nameNode = map["name"] {
                if let name = fields.name(nameNode, "a receiver's name") { receiver.name = name }
                if !names.insert(receiver.name.lowercased()).inserted {
                    fields.fail(nameNode, "receiver name '\(receiver.name)' is used twice")
                }
            } else {
                var number = 2
                let base = receiver.name
                while !names.insert(receiver.name.lowercased()).inserted {
                    receiver.name = "\(base)-\(number)"
                    number += 1
                }
            }
            receivers.append(receiver)
        }
        return receivers
    }

    /// `KEY-file` or `KEY-env`, not both.
    mutating func secretSource(_ map: Mapping, _ key: String) -> SecretSource? {
        let file = map["\(key)-file"].flatMap { fields.string($0, "\(key)-file") }
        let env = map["\(key)-env"].flatMap { fields.string($0, "\(key)-env") }
        if file != nil, env != nil {
            fields.fail(map.node, "give \(key)-file or \(key)-env, not both")
            return nil
        }
        if let env, env.isEmpty || env.contains("=") {
            fields.fail(map["\(key)-env"]!, "\(key)-env '\(env.prefix(100))' is not an environment variable's name")
            return nil
        }
        return file.map(SecretSource.file) ?? env.map(SecretSource.environment)
    }

    /// One address or a list of them.
    mutating func addresses(_ node: YAMLNode) -> [String] {
        if case .sequence = node {
            return (fields.list(node, "email") ?? []).compactMap { address($0, "email") }
        }
        return address(node, "email").map { [$0] } ?? []
    }

    mutating func address(_ node: YAMLNode, _ what: String) -> String? {
        guard let text = fields.string(node, what) else { return nil }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), text.count <= 254,
            !text.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," })
        else {
            fields.fail(node, "\(what) '\(text.prefix(200))' is not an email address such as oncall@contoso.com")
            return nil
        }
        return text
    }

    mutating func readDashboard(_ node: YAMLNode) -> String? {
        guard let text = fields.string(node, "dashboard") else { return nil }
        if let problem = Receiver.problem(url: text) {
            fields.fail(node, "dashboard: \(problem)")
            return nil
        }
        return text
    }
}

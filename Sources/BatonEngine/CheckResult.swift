import BatonKnowledge
import BatonModel

/// One preflight finding (`baton check`).
public struct CheckResult: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Codable, Comparable {
        case pass, warn, fail

        public static func < (lhs: Status, rhs: Status) -> Bool {
            [Status.pass, .warn, .fail].firstIndex(of: lhs)! < [Status.pass, .warn, .fail].firstIndex(of: rhs)!
        }
    }

    public var status: Status
    /// What was checked, for example "installers".
    public var check: String
    /// The host or virtual server.
    public var subject: String
    public var detail: String
    public var rule: Rule.ID?

    public init(status: Status, check: String, subject: String, detail: String, rule: Rule.ID? = nil) {
        self.status = status
        self.check = check
        self.subject = subject
        self.detail = detail
        self.rule = rule
    }

    public init(status: Status, check: String, subject: HostName, detail: String, rule: Rule.ID? = nil) {
        self.init(status: status, check: check, subject: subject.spelling, detail: detail, rule: rule)
    }
}

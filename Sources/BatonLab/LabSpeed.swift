/// How fast the twin's virtual clock runs against the wall clock while a run waits for an
/// action: in real time (a rehearsal an operator watches), N times faster, or instantly
/// (tests and benchmarks). The twin's own times are virtual and the same in every mode.
public enum LabSpeed: Sendable, Hashable, CustomStringConvertible {
    case instant
    case factor(Double)

    public static let realTime = LabSpeed.factor(1)

    /// "instant", "real" or a factor such as "60".
    public init?(_ text: String) {
        switch text.lowercased() {
        case "instant": self = .instant
        case "real", "realtime", "real-time": self = .realTime
        default:
            guard let factor = Double(text), factor >= 1, factor.isFinite else { return nil }
            self = .factor(factor)
        }
    }

    public var description: String {
        switch self {
        case .instant: "instant"
        case .factor(let factor): factor == 1 ? "real time" : "\(factor)× real time"
        }
    }

    /// Waits as long as `seconds` of virtual time take at this speed.
    public func wait(_ seconds: Double) async throws {
        guard case .factor(let factor) = self, seconds > 0 else { return }
        try await Task.sleep(for: .milliseconds(Int64(seconds / factor * 1000)))
    }
}

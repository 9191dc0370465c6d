import BatonPlan

/// No schedule on `parallel` slots beats how one slot can run its share of the longest steps.
/// Of any k·slots + 1 steps, some slot runs k + 1 of them one after another: each no earlier
/// than its head (the least time before it can start), the last followed by its tail (the
/// least time after it ends). The shortest way to do that bounds every schedule.
///
/// Tried on sets of steps that cannot start in the first `a` (every head), or end in the last
/// `b` (every tail), or both (on a grid), taking the k·slots + 1 longest of each set: for every
/// k, the k + 1 shortest of those back to back after the earliest head and before the least
/// tail; for k of 1 and 2 on up to `exactSlots` slots, each choice of k + 1 of them in its best
/// order. On three slots the front-end pool example's last hours hold five 45-minute backups
/// and two 40-minute installs, each install with an hour of work after it: some slot runs
/// three of the seven, and the quickest three (an install first, then two backups) take
/// 2 h 15 min after the pool rejoins, which makes the bound the best schedule there is.
struct SlotBound {
    let heads: [Int]
    let tails: [Int]
    let seconds: [Int]
    let parallel: Int

    /// Plans of at most this many steps that take time get this bound: its cost grows with the
    /// plan's size squared.
    static let maximumSteps = 1_000
    /// Slots up to which every choice of k + 1 of the longest steps is tried.
    static let exactSlots = 8
    /// Thresholds per side of the grid of sets that are bounded on both sides.
    static let grid = 16

    var best: (Int, String) {
        // Longest first, once: every set below keeps this order.
        let working = seconds.indices.filter { seconds[$0] > 0 }.sorted { (seconds[$0], $1) > (seconds[$1], $0) }
        var best = (0, "")
        // Many sets share their longest steps: each choice among the same ones is made once.
        var shares: [[Int]: Int] = [:]
        func consider(_ a: Int, _ b: Int) {
            let set = working.filter { heads[$0] >= a && tails[$0] >= b }
            guard let (value, kept, together) = bound(set, &shares), value > best.0 else { return }
            best = (
                value,
                "of the \(kept) longest steps\(PlanQuality.window(a, b)), some slot runs \(together) one after another"
            )
        }
        let starts = Set(working.map { heads[$0] }).sorted()
        let ends = Set(working.map { tails[$0] }).sorted()
        for a in starts { consider(a, 0) }
        for b in ends { consider(0, b) }
        func sample(_ values: [Int]) -> [Int] {
            stride(from: 0, to: values.count, by: max(1, values.count / Self.grid)).map { values[$0] }
        }
        for a in sample(starts) { for b in sample(ends) { consider(a, b) } }
        return best
    }

    /// The bound on `longest` (a set of steps, longest first) and which of its k·slots + 1
    /// longest steps, k + 1 together, give it.
    func bound(_ longest: [Int], _ shares: inout [[Int]: Int]) -> (Int, kept: Int, together: Int)? {
        guard !longest.isEmpty else { return nil }
        var best = (0, kept: 0, together: 0)
        var earliest = Int.max
        var least = Int.max
        var sums = [0]
        for (offset, index) in longest.enumerated() {
            earliest = min(earliest, heads[index])
            least = min(least, tails[index])
            sums.append(sums.last! + seconds[index])
            guard offset % parallel == 0 else { continue }
            let k = offset / parallel
            var value = earliest + sums[offset + 1] - sums[offset - k] + least
            if (1...2).contains(k), parallel <= Self.exactSlots {
                let top = Array(longest[...offset])
                if shares[top] == nil { shares[top] = share(of: k + 1, from: top) }
                value = max(value, shares[top]!)
            }
            if value > best.0 { best = (value, offset + 1, k + 1) }
        }
        return best
    }

    /// The least time one slot needs to run `together` (2 or 3) of `top`, each no earlier than
    /// its head and followed by its tail, over every choice of them in each order.
    func share(of together: Int, from top: [Int]) -> Int {
        var best = Int.max
        for first in top.indices {
            for second in top.indices where second > first {
                guard together == 3 else {
                    best = min(best, oneSlot(top[first], top[second]))
                    continue
                }
                for third in top.indices where third > second {
                    best = min(best, oneSlot(top[first], top[second], top[third]))
                }
            }
        }
        return best
    }

    /// The least time one slot needs to run two or three steps one after another, each no
    /// earlier than its head and followed by its tail: every order tried.
    func oneSlot(_ a: Int, _ b: Int, _ c: Int? = nil) -> Int {
        func end(_ first: Int, _ second: Int, _ third: Int?) -> Int {
            var now = max(0, heads[first]) + seconds[first]
            var end = now + tails[first]
            now = max(now, heads[second]) + seconds[second]
            end = max(end, now + tails[second])
            guard let third else { return end }
            now = max(now, heads[third]) + seconds[third]
            return max(end, now + tails[third])
        }
        guard let c else { return min(end(a, b, nil), end(b, a, nil)) }
        return min(end(a, b, c), end(a, c, b), end(b, a, c), end(b, c, a), end(c, a, b), end(c, b, a))
    }
}

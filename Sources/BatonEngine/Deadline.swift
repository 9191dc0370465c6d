/// What `work` gives, if it gives it within `limit`; nil when the time ran out first, and then
/// `work` is cancelled (what it started must end on cancellation: a subprocess's teardown, a
/// session's end, a request's body no longer read).
public func within<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await work() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

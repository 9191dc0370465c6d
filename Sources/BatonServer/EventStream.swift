import BatonEngine
import BatonModel
import BatonStore
import Foundation
import Hummingbird

/// A run's events as Server-Sent Events (`GET /api/runs/{id}/events`), read from the journal
/// (through the server's one `TransitionFeed`):
/// whoever carries the run out (this server, or `baton run` in another shell on the same state
/// directory), a watcher sees every transition, in order, each with its journal sequence as
/// the event id, so a client that reconnects with `Last-Event-ID` misses nothing.
///
/// First a `snapshot` event (the run with every step), then one `transition` event per
/// journaled change, and `end` once the run is completed or aborted. Comments keep idle
/// connections open; the stream also ends when the server shuts down.
struct EventStream: Sendable {
    let journal: any Journal
    let coordinator: RunCoordinator
    let feed: TransitionFeed
    /// Streams open now; past the limit a new one gets 503.
    let streams: Gauge
    let client: String
    var heartbeat: Duration = .seconds(15)

    struct TransitionEvent: Encodable {
        /// The journal's sequence: the event's id.
        var sequence: Int64
        var run: RunID
        var step: StepID?
        var action: String?
        var state: String
        var attempts: Int?
        var message: String
        var at: String
    }

    func response(run id: RunID, lastEventID: String?, request: Request) async throws -> Response {
        // Counted first: a client over its share is refused before any query.
        try streams.enter(client)
        let exists: Bool
        do { exists = try await journal.run(id) != nil } catch {
            streams.leave(client)
            throw error
        }
        guard exists else {
            streams.leave(client)
            throw APIError(.notFound, "no run '\(id)'")
        }
        let resumeAfter = lastEventID.flatMap { Int64($0) }
        let (streams, client) = (self.streams, self.client)
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"],
            body: ResponseBody { writer in
                defer { streams.leave(client) }
                // A client that goes away ends its stream at once, not at the next write.
                do {
                    try await request.body.consumeWithCancellationOnInboundClose { _ in
                        try await stream(id, after: resumeAfter, to: &writer)
                    }
                } catch is CancellationError {
                    return
                }
                try await writer.finish(nil)
            })
    }

    func stream(_ id: RunID, after resumeAfter: Int64?, to writer: inout any ResponseBodyWriter) async throws {
        // Subscribed before the first read, so that nothing journaled in between is missed.
        let (subscription, updates) = feed.subscribe()
        defer { feed.unsubscribe(subscription) }
        var last = resumeAfter ?? 0
        if resumeAfter == nil {
            // The snapshot stands for everything journaled so far.
            last = try await journal.transitions(run: id).last?.sequence ?? 0
            try await writer.write(
                Self.event("snapshot", id: last, data: try APIRoutes.encoded(coordinator.detail(id))))
        } else {
            try await send(try journal.transitions(after: last, run: id), of: id, last: &last, to: &writer)
        }
        let clock = ContinuousClock()
        var quietSince = clock.now
        for await update in updates {
            guard !coordinator.isStopping, !Task.isCancelled else { return }
            // What was journaled between this stream's own read and the feed's first look.
            if update.after > last {
                let gap = try await journal.transitions(after: last, run: id).filter { $0.sequence <= update.after }
                try await send(gap, of: id, last: &last, to: &writer)
                last = max(last, update.after)
            }
            let mine = update.transitions.filter { $0.run == id && $0.sequence > last }
            if !mine.isEmpty {
                try await send(mine, of: id, last: &last, to: &writer)
                quietSince = clock.now
            } else if clock.now - quietSince > heartbeat {
                try await writer.write(ByteBuffer(string: ": still here\n\n"))
                quietSince = clock.now
            }
            if let state = update.ended[id] {
                try await writer.write(Self.event("end", id: last, data: "{\"state\":\"\(state.rawValue)\"}"))
                return
            }
        }
    }

    func send(
        _ transitions: [Transition], of id: RunID, last: inout Int64, to writer: inout any ResponseBodyWriter
    ) async throws {
        guard !transitions.isEmpty else { return }
        for event in try await Self.events(transitions, of: id, journal: journal) {
            try await writer.write(Self.event("transition", id: event.sequence, data: try APIRoutes.encoded(event)))
            last = event.sequence
        }
    }

    /// The transitions as events, each with its step's action and attempts now.
    static func events(_ transitions: [Transition], of run: RunID, journal: any Journal) async throws
        -> [TransitionEvent]
    {
        let steps = Dictionary(uniqueKeysWithValues: try await journal.steps(of: run).map { ($0.id, $0) })
        return transitions.map { transition in
            let step = transition.step.flatMap { steps[$0] }
            return TransitionEvent(
                sequence: transition.sequence, run: run, step: transition.step, action: step?.action,
                state: transition.state, attempts: step?.attempts, message: transition.message,
                at: RunSummary.time(transition.at))
        }
    }

    static func event(_ name: String, id: Int64, data: String) -> ByteBuffer {
        ByteBuffer(string: "id: \(id)\nevent: \(name)\ndata: \(data)\n\n")
    }
}

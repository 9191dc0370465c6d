import CYaml
import Foundation

/// libyaml's events of a text, in order, ending with the end of the stream or the syntax error
/// libyaml stopped at. A long text is parsed on a thread of its own, a batch of events at a time,
/// while the caller builds the tree from the batch before: parsing is a third of reading a large
/// inventory. At most two batches wait, so memory stays bounded whatever the text.
final class YAMLEvents: @unchecked Sendable {
    /// How the events end: the stream's end, or a syntax error located in the file.
    enum End {
        case stream
        case failed(InventoryError)
    }

    /// Texts at least this long (a few thousand servers) are parsed on a thread of their own;
    /// shorter ones are not worth starting it.
    static let threadAbove = 256 * 1024
    static let batchSize = 4096

    /// Hands each event of `text` to `take` in order, and returns how they ended; `take`
    /// throwing stops the parse. Each event is freed once `take` returns.
    static func read<Failure: Error>(
        _ text: String, file: String, threadAbove: Int = threadAbove, batch: Int = batchSize,
        _ take: (yaml_event_t) throws(Failure) -> Void
    ) throws(Failure) -> End {
        guard text.utf8.count >= threadAbove else {
            return try Parser(text, file: file).events { (event) throws(Failure) -> Bool in
                try take(event)
                return true
            }
        }
        let events = YAMLEvents(batch: max(1, batch))
        let parsed = DispatchSemaphore(value: 0)
        // A queue of its own is a thread of its own: the reader waits for it, so it must run.
        DispatchQueue(label: "baton.yaml").async {
            events.parse(text, file: file)
            parsed.signal()
        }
        defer { parsed.wait() }
        return try events.take(take)
    }

    // MARK: The queue between the two threads

    private let batchSize: Int
    private let lock = NSCondition()
    private var batches: [[yaml_event_t]] = []
    private var end: End?
    private var stopped = false

    private init(batch: Int) { batchSize = batch }

    /// The parsing thread: events in batches, waiting while two are ready.
    private func parse(_ text: String, file: String) {
        var batch: [yaml_event_t] = []
        batch.reserveCapacity(batchSize)
        let end = Parser(text, file: file).events { event in
            batch.append(event)
            // The event is the batch's now: what the parser frees is an empty one.
            event = yaml_event_t()
            guard batch.count == batchSize else { return true }
            defer { batch = [] }
            return hand(batch, end: nil)
        }
        _ = hand(batch, end: end)
    }

    /// Hands `batch` on (with `end`, the last); false once the reader has stopped, whose
    /// events are then freed here.
    private func hand(_ batch: [yaml_event_t], end: End?) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        while batches.count >= 2, !stopped { lock.wait() }
        guard !stopped else {
            Self.free(batch)
            return false
        }
        batches.append(batch)
        if let end { self.end = end }
        lock.broadcast()
        return true
    }

    /// The reading thread: each batch in turn, until the end.
    private func take<Failure: Error>(_ take: (yaml_event_t) throws(Failure) -> Void) throws(Failure) -> End {
        while true {
            lock.lock()
            while batches.isEmpty, end == nil { lock.wait() }
            guard !batches.isEmpty else {
                lock.unlock()
                return end ?? .stream
            }
            let batch = batches.removeFirst()
            lock.broadcast()
            lock.unlock()
            defer { Self.free(batch) }
            do {
                for event in batch { try take(event) }
            } catch {
                stop()
                throw error
            }
        }
    }

    /// Stops the parsing thread and frees what it had handed on.
    private func stop() {
        lock.lock()
        stopped = true
        for batch in batches { Self.free(batch) }
        batches = []
        lock.broadcast()
        lock.unlock()
    }

    private static func free(_ events: some Collection<yaml_event_t>) {
        for var event in events { yaml_event_delete(&event) }
    }

    // MARK: One parse

    /// libyaml's parser over `text`.
    struct Parser {
        let text: String
        let file: String

        init(_ text: String, file: String) {
            self.text = text
            self.file = file
        }

        /// Each event to `take` until the stream ends or `take` returns false (`.stream`), or the
        /// text has a syntax error. The event is freed after `take`, which may keep it by
        /// leaving an empty event in its place.
        func events<Failure: Error>(_ take: (inout yaml_event_t) throws(Failure) -> Bool) throws(Failure) -> End {
            var bytes = Array(text.utf8)
            return try bytes.withUnsafeMutableBufferPointer { (buffer) throws(Failure) -> End in
                var parser = yaml_parser_t()
                guard yaml_parser_initialize(&parser) == 1 else {
                    return .failed(
                        InventoryError(SourceLocation(file: file, line: 1, column: 1), "out of memory reading YAML"))
                }
                defer { yaml_parser_delete(&parser) }
                yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
                yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
                while true {
                    var event = yaml_event_t()
                    guard yaml_parser_parse(&parser, &event) == 1 else {
                        return .failed(YAMLComposer.syntaxError(parser, text: text, file: file))
                    }
                    defer { yaml_event_delete(&event) }
                    if event.type == YAML_STREAM_END_EVENT { return .stream }
                    guard try take(&event) else { return .stream }
                }
            }
        }
    }
}

import Foundation

/// Writes a plan as the plan's JSON directly into a byte buffer. Foundation's `JSONEncoder`
/// produced the same document four times slower and with ten times the memory at 100,000
/// servers (see docs/benchmarks.md), so the plan's one hot output path is written by hand;
/// `JSONDecoder` still reads it back, and a test checks both agree.
///
/// Keys are sorted within every object, two-space indentation, one key per line: the same
/// shape as `JSONEncoder` with `.sortedKeys` and `.prettyPrinted`, byte-for-byte deterministic.
struct JSONWriter: ~Copyable {
    private(set) var bytes: OutputBytes
    private var indent = 0
    /// Where the document goes as it is written, a megabyte at a time; nil to keep it whole.
    private var sink: (@Sendable (UnsafeRawBufferPointer) -> Void)?
    /// A plan of at least twice this many steps has its steps written on two threads.
    private var batch = Self.batch

    init(capacity: Int) {
        bytes = OutputBytes(capacity: capacity)
    }

    static func render(_ plan: Plan) -> String {
        var writer = JSONWriter(capacity: 600 * plan.steps.count + 4096)
        writer.plan(plan)
        writer.raw("\n")
        return writer.bytes.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The same document, handed to `output` a megabyte at a time as it is written, so that
    /// a plan of any size never sits whole in memory; a long plan's steps are written on two
    /// threads, `batch` steps at a time, and handed on in order.
    static func write(
        _ plan: Plan, batch: Int = Self.batch, to output: @escaping @Sendable (UnsafeRawBufferPointer) -> Void
    ) {
        var writer = JSONWriter(capacity: Self.chunk + 64 * 1024)
        writer.sink = output
        writer.batch = max(1, batch)
        writer.plan(plan)
        writer.raw("\n")
        writer.drain()
    }

    static let chunk = 1 << 20

    /// Steps one thread writes at a time when a long plan is written on two (about a megabyte).
    static let batch = 2048

    /// The members of the steps array, at `indent`, written on two threads `batch` steps at a
    /// time and handed to `output` in the plan's order: this thread writes the even batches and
    /// a second thread the odd ones, each waiting its turn to hand a batch on. The second is a
    /// queue's own thread, not a shared pool's: each waits for the other, so both must run.
    static func steps(
        _ steps: [Step], indent: Int, batch: Int, to output: @escaping @Sendable (UnsafeRawBufferPointer) -> Void
    ) {
        let batches = (steps.count + batch - 1) / batch
        let turns = [DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)]
        let work: @Sendable (Int) -> Void = { worker in
            var writer = JSONWriter(capacity: chunk + 64 * 1024)
            writer.indent = indent
            steps.withUnsafeBufferPointer { steps in
                for number in stride(from: worker, to: batches, by: 2) {
                    writer.bytes.removeAll()
                    writer.firstMember = [number == 0]
                    for index in (number * batch)..<min(steps.count, (number + 1) * batch) {
                        writer.element()
                        writer.begin()
                        writer.step(steps[index])
                        writer.end()
                    }
                    turns[worker].wait()
                    writer.bytes.withBytes(output)
                    turns[1 - worker].signal()
                }
            }
        }
        let helperDone = DispatchSemaphore(value: 0)
        DispatchQueue(label: "baton.json").async {
            work(1)
            helperDone.signal()
        }
        turns[0].signal()
        work(0)
        helperDone.wait()
    }

    /// Each step as a JSON object of its own, in the plan's order.
    static func steps(_ plan: Plan) -> [String] {
        var writer = JSONWriter(capacity: 4096)
        var objects: [String] = []
        objects.reserveCapacity(plan.steps.count)
        for step in plan.steps {
            writer.bytes.removeAll()
            writer.begin()
            writer.step(step)
            writer.end()
            objects.append(writer.bytes.withBytes { String(decoding: $0, as: UTF8.self) })
        }
        return objects
    }

    mutating func drain() {
        guard let sink, !bytes.isEmpty else { return }
        bytes.withBytes(sink)
        bytes.removeAll()
    }

    // MARK: The plan's shape, keys in sorted order

    mutating func plan(_ plan: Plan) {
        begin()
        field("digest", plan.digest)
        if let estimate = plan.estimate {
            key("estimate")
            self.estimate(estimate)
        }
        field("format", plan.format)
        if let limit = plan.limit { field("limit", list: limit) }
        if let source = plan.madeFrom {
            key("made-from")
            begin()
            key("builds")
            begin()
            for (server, build) in source.builds.sorted(by: { $0.key < $1.key }) {
                key(server)
                string(build)
            }
            end()
            field("catalogue", source.catalogue)
            field("catalogue-sha256", source.catalogueSHA256)
            field("inventory", source.inventory)
            field("inventory-sha256", source.inventorySHA256)
            end()
        }
        field("organization", plan.organization)
        key("package")
        package(plan.package)
        if let packages = plan.packages {
            field("packages", objects: packages) { writer, assignment in
                writer.key("package")
                writer.package(assignment.package)
                writer.field("servers", list: assignment.servers.lazy.map(\.spelling))
            }
        }
        if let sink, plan.steps.count >= 2 * batch {
            key("steps")
            beginArray(false)
            drain()
            Self.steps(plan.steps, indent: indent, batch: batch, to: sink)
            firstMember[firstMember.count - 1] = false
            endArray(false)
        } else {
            field("steps", objects: plan.steps) { $0.step($1) }
        }
        field("target", plan.target)
        field("warnings", objects: plan.warnings) { writer, warning in
            writer.field("message", warning.message)
            writer.field("rule", warning.rule.rawValue)
        }
        end()
    }

    mutating func package(_ package: Plan.PackageSummary) {
        begin()
        field("build", package.build)
        field("id", package.id.spelling)
        field("kind", package.kind.rawValue)
        field("level", package.level?.rawValue)
        field("product", package.product)
        field("requires", package.requires?.rawValue)
        field("restart", package.restart.rawValue)
        end()
    }

    /// A step's members as `Step.forEachMember` names them; the caller opens and closes the object.
    mutating func step(_ step: Step) {
        step.forEachMember { name, member in
            key(name)
            switch member {
            case .text(let text): string(text)
            case .steps(let steps): list(steps.lazy.map(\.rawValue))
            case .rules(let rules): list(rules.lazy.map(\.rawValue))
            case .texts(let texts): list(texts)
            case .backups(let items): list(items.lazy.map(\.rawValue))
            case .resources(let types): list(types.lazy.map(\.rawValue))
            case .flag(let flag): raw(flag ? "true" : "false")
            case .number(let number): raw(number)
            }
        }
    }

    mutating func estimate(_ estimate: Estimate) {
        begin()
        field("assumptions", estimate.assumptions)
        if let dags = estimate.dags {
            field("dags", objects: dags) { writer, dag in
                writer.field("members", dag.members)
                writer.field("name", dag.name)
                writer.field("window-seconds", dag.windowSeconds)
            }
        }
        if let databases = estimate.databases {
            field("databases", objects: databases) { writer, database in
                writer.field("downtime-seconds", database.downtimeSeconds)
                writer.field("name", database.name)
            }
        }
        if let durations = estimate.durations {
            key("durations")
            begin()
            for (action, seconds) in durations.sorted(by: { $0.key < $1.key }) {
                key(action)
                raw(seconds)
            }
            end()
        }
        if let inbound = estimate.inboundMail {
            field("inbound-mail", objects: inbound) { writer, edge in
                writer.field("downtime-seconds", edge.downtimeSeconds)
                writer.field("name", edge.name)
            }
        }
        field("makespan-seconds", estimate.makespanSeconds)
        field("pools", objects: estimate.pools) { writer, pool in
            writer.field("fully-out-seconds", pool.fullyOutSeconds)
            writer.field("members", pool.members)
            writer.field("members-out", pool.membersOut)
            writer.field("name", pool.name)
            writer.field("window-seconds", pool.windowSeconds)
        }
        field("virtual-servers", objects: estimate.virtualServers) { writer, evs in
            writer.field("downtime-seconds", evs.downtimeSeconds)
            writer.field("name", evs.name)
        }
        field("work-seconds", estimate.workSeconds)
        end()
    }

    // MARK: JSON primitives

    /// Whether the innermost open object or array has no member yet.
    private var firstMember: [Bool] = []

    mutating func begin() {
        raw("{")
        indent += 1
        firstMember.append(true)
    }

    mutating func end() {
        indent -= 1
        if firstMember.removeLast() {
            raw("}")
        } else {
            raw("\n")
            writeIndent()
            raw("}")
        }
    }

    /// Starts a member; members must come in sorted key order.
    mutating func key(_ name: StaticString) {
        newMember()
        // Keys are the format's own names, which need no escape.
        bytes.append(0x22)
        raw(name)
        raw("\" : ")
    }

    /// Starts a member named by a step's field: the format's own names, which need no escape.
    mutating func key(_ field: Step.Field) {
        newMember()
        bytes.append(0x22)
        bytes.append(field.rawValue)
        raw("\" : ")
    }

    /// Starts a member whose name is data (an action's, from an inventory), escaped as any string.
    mutating func key(_ name: String) {
        newMember()
        string(name)
        raw(" : ")
    }

    /// A new line, after a comma unless it is the first member, indented.
    mutating func newMember() {
        raw(firstMember[firstMember.count - 1] ? "\n" : ",\n")
        firstMember[firstMember.count - 1] = false
        writeIndent()
    }

    mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        raw(value ? "true" : "false")
    }

    mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        raw(value)
    }

    mutating func field(_ name: StaticString, list: some Collection<String>) {
        key(name)
        self.list(list)
    }

    /// An array of strings, after its key.
    mutating func list(_ list: some Collection<String>) {
        beginArray(list.isEmpty)
        for value in list {
            element()
            string(value)
        }
        endArray(list.isEmpty)
    }

    /// An array of objects, `body` writing each object's members in sorted key order.
    mutating func field<Element>(_ name: StaticString, objects: [Element], _ body: (inout JSONWriter, Element) -> Void)
    {
        key(name)
        beginArray(objects.isEmpty)
        // Each object read where it is stored: a step copied out of the list would retain
        // and release each of its members.
        objects.withUnsafeBufferPointer { objects in
            for index in objects.indices {
                element()
                begin()
                body(&self, objects[index])
                end()
                if sink != nil, bytes.count >= Self.chunk { drain() }
            }
        }
        endArray(objects.isEmpty)
    }

    mutating func beginArray(_ empty: Bool) {
        raw(empty ? "[" : "[\n")
        indent += 1
        firstMember.append(true)
    }

    /// Starts an array element.
    mutating func element() {
        if !firstMember[firstMember.count - 1] { raw(",\n") }
        firstMember[firstMember.count - 1] = false
        writeIndent()
    }

    mutating func endArray(_ empty: Bool) {
        indent -= 1
        firstMember.removeLast()
        if empty { return raw("]") }
        raw("\n")
        writeIndent()
        raw("]")
    }

    /// Two spaces a level, copied from a line of spaces kept for it.
    mutating func writeIndent() {
        var width = 2 * indent
        while width > 0 {
            let part = min(width, Self.spaces.utf8CodeUnitCount)
            bytes.append(UnsafeBufferPointer(start: Self.spaces.utf8Start, count: part))
            width -= part
        }
    }

    private static let spaces: StaticString = "                                "

    /// Text of the format's own, which needs no escape, copied as it is stored.
    mutating func raw(_ text: StaticString) {
        bytes.append(text)
    }

    mutating func raw(_ number: Int) {
        bytes.append(String(number))
    }

    /// Whether `text` has no quote, backslash or control character: eight bytes at a time,
    /// then the rest one by one.
    static func needsNoEscape(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        if let base = text.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
            // Some byte of `word` is below `limit` (at most 0x80); a byte of zero is one below 1.
            func below(_ limit: UInt64, _ word: UInt64) -> Bool { (word &- ones &* limit) & ~word & high != 0 }
            while index + 8 <= text.count {
                let word = UnsafeRawPointer(base).loadUnaligned(fromByteOffset: index, as: UInt64.self)
                if below(0x20, word) || below(1, word ^ (ones &* 0x22)) || below(1, word ^ (ones &* 0x5C)) {
                    return false
                }
                index += 8
            }
        }
        while index < text.count {
            let byte = text[index]
            if byte < 0x20 || byte == 0x22 || byte == 0x5C { return false }
            index += 1
        }
        return true
    }

    /// A JSON string: quotes, backslashes and control characters escaped; everything else,
    /// `/` included, as UTF-8.
    mutating func string(_ value: String) {
        bytes.append(0x22)
        // Most strings need no escape: scanned and copied as one buffer.
        let plain = value.utf8.withContiguousStorageIfAvailable { buffer -> Bool in
            guard Self.needsNoEscape(buffer) else { return false }
            bytes.append(buffer)
            return true
        }
        if plain == true {
            bytes.append(0x22)
            return
        }
        // Escaped byte by byte (also a string not stored as UTF-8, which is rare).
        for byte in value.utf8 {
            switch byte {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(0x6E)
            case 0x0D: bytes.append(0x5C); bytes.append(0x72)
            case 0x09: bytes.append(0x5C); bytes.append(0x74)
            case 0x08: bytes.append(0x5C); bytes.append(0x62)
            case 0x0C: bytes.append(0x5C); bytes.append(0x66)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                for escaped in [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]] {
                    bytes.append(escaped)
                }
            default: bytes.append(byte)
            }
        }
        bytes.append(0x22)
    }
}

import ArgumentParser
import BatonKnowledge
import Foundation

/// `baton diagnose`: recognises KB 328839's known failures in installer and hotfix logs,
/// event log exports (text or CSV) or pasted error text, and says the rule, cause and remedy.
/// Any input is read in bounded memory and time: a line at a time, each looked at up to
/// `Diagnosis.Scanner.lineLimit` bytes, at most `--max-size` of each input.
struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Recognises known failures in logs or error text and prints the rule, cause and remedy.",
        discussion: """
            Exit code 1 when a known failure is found, 0 when none is, 2 when a file cannot be read. Each input is \
            read up to --max-size (a note on standard error says when one was longer); a line is looked at up to \
            its first \(Diagnosis.Scanner.lineLimit) bytes; at most \(findingLimit) findings are listed, with \
            a count of the rest.
            """)

    @Argument(help: "Files to read; '-' or none reads standard input.")
    var files: [String] = []

    @Flag(name: .customLong("json"), help: "Print findings as JSON (the same as --format json).")
    var jsonFlag = false

    @Option(help: "text or json.")
    var format: RunExecutionFormat = .text

    var json: Bool { jsonFlag || format == .json }

    @Option(help: ArgumentHelp("How much of each input to read, in MiB.", valueName: "MiB"))
    var maxSize = 2048

    /// Findings listed at most; past it they are counted.
    static let findingLimit = 10_000

    func validate() throws {
        guard (1...1_048_576).contains(maxSize) else { throw ValidationError("--max-size takes 1 to 1048576 MiB") }
    }

    func run() throws {
        var all: [(String, Diagnosis.Finding)] = []
        var unlisted = 0
        var unreadable = false
        var readable = 0
        for file in files.isEmpty ? ["-"] : files {
            let name = file == "-" ? "<stdin>" : file
            let handle: FileHandle
            if file == "-" {
                handle = FileHandle.standardInput
            } else if let opened = FileHandle(forReadingAtPath: file), !Self.isFolder(file) {
                handle = opened
            } else {
                Terminal.error("\(file):1:1: error: cannot read the file")
                unreadable = true
                continue
            }
            readable += 1
            var scanner = Diagnosis.Scanner()
            var reader = LogReader(limit: maxSize << 20)
            func take(_ found: [Diagnosis.Finding]) {
                for finding in found {
                    if all.count < Self.findingLimit { all.append((name, finding)) } else { unlisted += 1 }
                }
            }
            do {
                try reader.lines(of: handle) { take(scanner.add($0)) }
            } catch {
                Terminal.error("\(name): error: reading stopped: \(error.localizedDescription)")
                unreadable = true
            }
            take(scanner.finish())
            if file != "-" { try? handle.close() }
            if reader.stoppedEarly {
                Terminal.error(
                    "\(name):\(scanner.lines): note: read the first \(maxSize) MiB only (--max-size); the rest was not examined"
                )
            }
        }
        if json {
            let objects = all.map { name, finding -> [String: JSONValue] in
                [
                    "file": .text(name), "line": .number(finding.line), "rule": .text(finding.rule.rawValue),
                    "title": .text(finding.title), "cause": .text(finding.cause), "remedy": .text(finding.remedy),
                    "excerpt": .text(finding.excerpt),
                ]
            }
            Terminal.out(JSONValue.pretty(encoding: objects))
        } else if all.isEmpty, readable > 0 {
            Terminal.out("No known failure recognised.\n")
        } else {
            for (name, finding) in all {
                Terminal.out(
                    """
                    \(name):\(finding.line): \(finding.rule): \(finding.title)
                        found:  \(finding.excerpt)
                        cause:  \(finding.cause)
                        remedy: \(finding.remedy)

                    """)
            }
        }
        if unlisted > 0 { Terminal.error("note: \(unlisted) more finding(s) not listed (at most \(Self.findingLimit))") }
        if unreadable { throw ExitCode(ExitStatus.badInput) }
        if !all.isEmpty { throw ExitCode(ExitStatus.failed) }
    }

    static func isFolder(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }
}

/// Reads a log a block at a time and hands it on a line at a time: UTF-16 (event log exports,
/// with their byte-order mark), else UTF-8 (Latin-1 bytes read as replacement characters).
/// A line break is LF, CRLF or CR. A line's bytes past what the scanner looks at
/// (`Line.cap`) are skipped, and nothing past `limit` bytes is read.
struct LogReader {
    let limit: Int
    private(set) var stoppedEarly = false

    init(limit: Int) {
        self.limit = limit
    }

    enum Encoding {
        case utf8, utf16LittleEndian, utf16BigEndian
    }

    /// The line being gathered, in code units, and whether a CR just ended one.
    struct Line {
        var encoding = Encoding.utf8
        var units: [UInt8] = []
        var afterCR = false
        /// Whether anything has been read since the last line ended.
        var open = false

        /// Bytes of one line kept: what the scanner looks at (UTF-8 bytes; a UTF-16 unit
        /// makes at least one).
        var cap: Int { Diagnosis.Scanner.lineLimit * (encoding == .utf8 ? 1 : 2) }

        mutating func take(_ bytes: UnsafeRawBufferPointer) {
            guard !bytes.isEmpty else { return }
            open = true
            let room = cap - units.count
            if room > 0 { units.append(contentsOf: bytes.prefix(room)) }
        }

        mutating func end(_ body: (String) -> Void) {
            switch encoding {
            case .utf8: body(String(decoding: units, as: UTF8.self))
            case .utf16LittleEndian, .utf16BigEndian:
                let little = encoding == .utf16LittleEndian
                let codes = stride(from: 0, to: units.count - 1, by: 2).map { index in
                    little
                        ? UInt16(units[index]) | UInt16(units[index + 1]) << 8
                        : UInt16(units[index]) << 8 | UInt16(units[index + 1])
                }
                body(String(decoding: codes, as: UTF16.self))
            }
            units.removeAll(keepingCapacity: true)
            open = false
        }
    }

    mutating func lines(of handle: FileHandle, _ body: (String) -> Void) throws {
        var read = 0
        var line = Line()
        var started = false
        // UTF-16: a code unit split between two blocks waits for its second byte.
        var carry: [UInt8] = []
        while read < limit {
            guard let block = try handle.read(upToCount: min(1 << 16, limit - read)), !block.isEmpty else { break }
            read += block.count
            var bytes = carry + block
            carry = []
            if !started {
                started = true
                if bytes.starts(with: [0xFF, 0xFE]) {
                    line.encoding = .utf16LittleEndian
                    bytes.removeFirst(2)
                } else if bytes.starts(with: [0xFE, 0xFF]) {
                    line.encoding = .utf16BigEndian
                    bytes.removeFirst(2)
                } else if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
                    bytes.removeFirst(3)
                }
            }
            let width = line.encoding == .utf8 ? 1 : 2
            if bytes.count % width != 0 { carry = [bytes.removeLast()] }
            bytes.withUnsafeBytes { Self.split($0, width: width, into: &line, body) }
        }
        if read >= limit, (try handle.read(upToCount: 1))?.isEmpty == false { stoppedEarly = true }
        if line.open { line.end(body) }
    }

    /// Splits `bytes` (whole code units of `width` bytes) at line breaks, handing on each line
    /// that ends and keeping the rest in `line`. Breaks are found with memchr: fast at any size.
    static func split(_ bytes: UnsafeRawBufferPointer, width: Int, into line: inout Line, _ body: (String) -> Void) {
        guard let base = bytes.baseAddress else { return }
        var position = 0
        let count = bytes.count
        // The byte of a unit that carries LF or CR: the first in little-endian UTF-16 and UTF-8.
        let offset = line.encoding == .utf16BigEndian ? 1 : 0
        func isBreak(_ at: Int, _ value: UInt8) -> Bool {
            guard bytes[at + offset] == value else { return false }
            return width == 1 || bytes[at + 1 - offset] == 0
        }
        while position < count {
            if line.afterCR {
                line.afterCR = false
                if position + width <= count, isBreak(position, 0x0A) {
                    position += width
                    continue
                }
            }
            // The next LF or CR at a unit boundary.
            var next = count
            for value: UInt8 in [0x0A, 0x0D] {
                var from = position + offset
                while from < next,
                    let found = memchr(base + from, Int32(value), next - from)
                {
                    let at = base.distance(to: UnsafeRawPointer(found)) - offset
                    if (at - position) % width == 0, isBreak(at, value) {
                        next = at
                        break
                    }
                    from = at + offset + 1
                }
            }
            line.take(UnsafeRawBufferPointer(rebasing: bytes[position..<next]))
            guard next < count else { return }
            line.afterCR = bytes[next + offset] == 0x0D
            line.open = true
            line.end(body)
            position = next + width
        }
    }
}

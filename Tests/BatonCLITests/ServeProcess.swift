import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// A real `baton serve` child process on a loopback port the system picks, and a client for it.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let state: String
    private(set) var url = ""
    let output: URL

    /// Starts the server over `state` and waits until it says where it listens.
    /// `inventories` is the server's inventories folder: the package, whose examples the tests
    /// name by their path; nil starts it without one.
    init(
        state: String, extraArguments: [String] = [], inventories: String? = ".", environment: [String: String] = [:]
    ) async throws {
        self.state = state
        output = URL(fileURLWithPath: state + "-serve.log")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = BatonProcess.executable
        process.currentDirectoryURL = BatonProcess.packageRoot
        process.arguments =
            ["serve", "--state", state, "--port", "0"] + (inventories.map { ["--inventories", $0] } ?? [])
            + extraArguments
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        try process.launchSerially()
        for _ in 0..<600 {
            let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let line = log.split(separator: "\n").first(where: { $0.hasPrefix("Baton serves ") }),
                let address = line.split(separator: " ").dropFirst(2).first
            {
                url = String(address.dropLast())  // "http://127.0.0.1:PORT/"
                return
            }
            guard process.ending == nil else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        stop()
        throw ServeError(description: "baton serve did not start: \(log)")
    }

    var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// SIGTERM, then waits for the process to end; returns its exit status. A server still
    /// running three minutes after SIGTERM (its lab runs' steps take seconds) is killed, its
    /// log's end is printed, and the status is -1, so a stuck shutdown fails a test instead of
    /// holding the whole suite.
    @discardableResult
    func stop() -> Int32 {
        if process.ending == nil { kill(process.processIdentifier, SIGTERM) }
        for _ in 0..<36_000 {
            if let ending = process.ending { return ending.status }
            usleep(5_000)
        }
        kill(process.processIdentifier, SIGKILL)
        _ = process.waitForEnding()
        print("baton serve over \(state) did not stop within 3 minutes of SIGTERM; killed. Its log ends:\n\(log.suffix(3000))")
        return -1
    }

    /// Makes a token with the real command line.
    func token(_ role: String, name: String) throws -> String {
        let result = try BatonProcess.run(["token", "create", "--role", role, "--name", name, "--state", state])
        guard result.status == 0 else { throw ServeError(description: result.stderr) }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
    }

    func call(
        _ method: HTTPMethod, _ path: String, token: String? = nil, body: Any? = nil,
        headers: [(String, String)] = []
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: buffer))
    }

    /// Waits until `count` steps of the run succeeded (a live run part-way), up to 30 s.
    func waitForSucceeded(_ count: Int, of run: String = "run-1") async throws {
        for _ in 0..<600 {
            let steps = try await call(.GET, "/api/runs/\(run)").object["steps"] as? [[String: Any]] ?? []
            if steps.filter({ $0["state"] as? String == "succeeded" }).count >= count { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServeError(description: "\(count) steps of \(run) never succeeded")
    }

    /// Waits until the run waits at `gate` (everything before it done), up to two minutes.
    func waitForGate(_ gate: String, of run: String) async throws {
        for _ in 0..<2400 {
            let gates = try await call(.GET, "/api/runs/\(run)").object["gates"] as? [[String: Any]] ?? []
            if gates.contains(where: { $0["gate"] as? String == gate && $0["state"] as? String == "waiting" }) {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServeError(description: "\(run) never waited at \(gate)")
    }

    /// Reads a run's event stream until `until` says stop (or the stream ends), returning the
    /// events as (name, data).
    func events(
        of run: String, within limit: TimeAmount = .seconds(120),
        until: @escaping @Sendable ([(name: String, data: String)]) async throws -> Bool
    ) async throws -> [(name: String, data: String)] {
        let request = HTTPClientRequest(url: url + "/api/runs/\(run)/events")
        let response = try await HTTPClient.shared.execute(request, timeout: limit)
        var text = "", events: [(name: String, data: String)] = []
        for try await buffer in response.body {
            text += String(buffer: buffer)
            while let end = text.range(of: "\n\n") {
                let block = text[..<end.lowerBound]
                text = String(text[end.upperBound...])
                var name = "message", data = ""
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") { data += line.dropFirst(6) }
                }
                if !block.hasPrefix(":") { events.append((name, data)) }
            }
            if try await until(events) { break }
        }
        return events
    }
}

struct ServeError: Error, CustomStringConvertible {
    var description: String
}

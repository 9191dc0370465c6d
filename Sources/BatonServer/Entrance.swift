import Crypto
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// The request context of `baton serve`: Hummingbird's, with the client's address (streams
/// are counted per client).
public struct BatonRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The connection, so that a refused request whose body is still arriving is not read to
    /// its end.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }

    /// The client's address without its port, for per-client limits.
    var client: String { remoteAddress?.ipAddress ?? "unknown" }
}

/// What every request passes before it reaches a route, and what every answer carries:
///
/// - `Host` must be a name this server answers to (loopback names, the address it listens on,
///   and `--allowed-host` names), else 421: a web page elsewhere cannot reach a loopback server
///   by rebinding a name of its own to 127.0.0.1. A call that changes something with an
///   `Origin` header needs that origin's host to be one of them too.
/// - With read protection on, every read but the dashboard's page and the API document needs
///   a token (any role).
/// - Answers carry a strict Content-Security-Policy (the dashboard's one script is allowed by
///   its hash), `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff` and
///   `Referrer-Policy: no-referrer`.
struct Entrance: RouterMiddleware {
    typealias Context = BatonRequestContext

    let allowedHosts: Set<String>
    let requireTokenForReads: Bool
    let tokens: AccessTokens
    let contentSecurityPolicy: String

    /// Loopback names and `listening` (unless it is a wildcard), with `extra`, lower case.
    static func allowedHosts(listening: String, extra: [String]) -> Set<String> {
        var hosts: Set<String> = ["localhost", "127.0.0.1", "::1", "[::1]"]
        if !["0.0.0.0", "::", "[::]", ""].contains(listening) { hosts.insert(listening.lowercased()) }
        for name in extra { hosts.insert(name.lowercased()) }
        return hosts
    }

    /// The policy for the dashboard: nothing from elsewhere, its one inline script by hash.
    static func contentSecurityPolicy(dashboard: String) -> String {
        var hashes: [String] = []
        var rest = dashboard[...]
        while let open = rest.range(of: "<script>"), let close = rest[open.upperBound...].range(of: "</script>") {
            let script = rest[open.upperBound..<close.lowerBound]
            hashes.append("'sha256-\(Data(SHA256.hash(data: Data(script.utf8))).base64EncodedString())'")
            rest = rest[close.upperBound...]
        }
        return
            "default-src 'none'; script-src \(hashes.joined(separator: " ")); style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response: Response
        do {
            try await check(request)
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        // Answered without reading the body (no token, too large, too slow, unreadable): stop
        // reading, so that the rest of a body trickled in cannot hold the connection; it closes
        // once the answer is written.
        if response.headers[.connection] == "close" {
            context.channel.close(mode: .input, promise: nil)
        }
        response.headers[.contentSecurityPolicy] = contentSecurityPolicy
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        return response
    }

    func check(_ request: Request) async throws {
        // RFC 9112 §3.2: more than one Host is a bad request (the first is not guessed at).
        guard request.headers[values: .init("Host")!].count + (request.head.authority == nil ? 0 : 1) <= 1 else {
            throw APIError(.badRequest, "the request has more than one Host header")
        }
        let host = request.head.authority ?? ""
        guard allowedHosts.contains(Self.hostName(host)) else {
            throw APIError(
                .misdirectedRequest,
                "this server does not answer to the name '\(host.prefix(100))'; start it with --allowed-host NAME to add one"
            )
        }
        let reads = request.method == .get || request.method == .head
        if !reads, let origin = request.headers[.origin] {
            let originHost = URL(string: origin)?.host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? origin
            guard allowedHosts.contains(originHost.lowercased()) else {
                throw APIError(.misdirectedRequest, "calls from pages of '\(origin.prefix(100))' are not taken")
            }
        }
        if requireTokenForReads, reads, !["/", "/openapi.yaml"].contains(request.uri.path) {
            _ = try await APIRoutes.caller(request, .viewer, tokens: tokens)
        }
    }

    /// "Example.com:8080" → "example.com"; "[::1]:8080" → "[::1]".
    static func hostName(_ header: String) -> String {
        let lower = header.lowercased()
        if lower.hasPrefix("[") { return lower.firstIndex(of: "]").map { String(lower[...$0]) } ?? lower }
        return lower.split(separator: ":", maxSplits: 1).first.map(String.init) ?? lower
    }
}

/// How much work requests may cause at once: plans and runs planned in parallel, the size of
/// an organization the API plans, event streams in all and per client.
public struct ServerLimits: Sendable {
    public var concurrentPlans: Int
    /// Servers and cluster nodes an inventory given to the API may have.
    public var machines: Int
    public var streams: Int
    public var streamsPerClient: Int
    /// How long a request's body may take to arrive whole.
    public var bodyTime: Duration

    public init(
        concurrentPlans: Int = 2, machines: Int = 20_000, streams: Int = 512, streamsPerClient: Int = 32,
        bodyTime: Duration = .seconds(30)
    ) {
        self.bodyTime = bodyTime
        self.concurrentPlans = concurrentPlans
        self.machines = machines
        self.streams = streams
        self.streamsPerClient = streamsPerClient
    }
}

/// Counts what is in use against its limit: `enter` refuses with 503 and `Retry-After` past it.
final class Gauge: Sendable {
    let limit: Int
    let perKey: Int
    let counts = Mutex<(total: Int, byKey: [String: Int])>((0, [:]))
    let what: String

    init(_ what: String, limit: Int, perKey: Int = .max) {
        self.what = what
        self.limit = limit
        self.perKey = perKey
    }

    func enter(_ key: String = "") throws {
        try counts.withLock { counts in
            guard counts.total < limit, counts.byKey[key, default: 0] < perKey else {
                throw APIError(
                    .serviceUnavailable, "too many \(what) at once; try again shortly", retryAfter: 5)
            }
            counts.total += 1
            counts.byKey[key, default: 0] += 1
        }
    }

    func leave(_ key: String = "") {
        counts.withLock { counts in
            counts.total -= 1
            counts.byKey[key, default: 1] -= 1
            if counts.byKey[key] == 0 { counts.byKey[key] = nil }
        }
    }

    /// Runs `body` counted.
    func counted<T>(_ key: String = "", _ body: () async throws -> T) async throws -> T {
        try enter(key)
        defer { leave(key) }
        return try await body()
    }
}

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP server on a loopback port that keeps every request it is sent: a webhook
/// receiver as Teams, Slack or an on-call tool would be. It can go down (its port closed) and
/// come back on the same port.
final class WebhookReceiver: Sendable {
    struct Request: Sendable {
        var path: String
        var headers: [String: String]
        var body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
    }

    let port: Int
    let requests = Mutex<[Request]>([])
    let channel = Mutex<(any Channel)?>(nil)
    /// The status it answers with (503 to refuse while listening).
    let status = Mutex<HTTPResponseStatus>(.ok)

    init() async throws {
        let bound = try await Self.bind(port: 0, receiver: nil)
        port = bound.localAddress!.port!
        try await bound.close()
        try await up()
    }

    var received: [Request] { requests.withLock { $0 } }
    var url: String { "http://127.0.0.1:\(port)/hook" }

    /// Listening (again) on its port.
    func up() async throws {
        let bound = try await Self.bind(port: port, receiver: self)
        channel.withLock { $0 = bound }
    }

    /// Its port closed: connections are refused.
    func down() async throws {
        let bound = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try await bound?.close()
    }

    static func bind(port: Int, receiver: WebhookReceiver?) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    if let receiver { try channel.pipeline.syncOperations.addHandler(Handler(receiver: receiver)) }
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
    }

    /// Waits until `condition` holds of what it received, for at most `seconds`.
    func wait(seconds: Double = 120, until condition: ([Request]) -> Bool) async throws -> [Request] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let now = received
            if condition(now) { return now }
            try await Task.sleep(for: .milliseconds(100))
        }
        return received
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let receiver: WebhookReceiver
        var head: HTTPRequestHead?
        var body = Data()

        init(receiver: WebhookReceiver) { self.receiver = receiver }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = Data()
            case .body(var buffer):
                body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
            case .end:
                let status = receiver.status.withLock { $0 }
                if status == .ok, let head {
                    var headers: [String: String] = [:]
                    for (name, value) in head.headers { headers[name.lowercased()] = value }
                    let request = Request(path: head.uri, headers: headers, body: body)
                    receiver.requests.withLock { $0.append(request) }
                }
                var responseHeaders = HTTPHeaders()
                responseHeaders.add(name: "Content-Length", value: "0")
                context.write(
                    wrapOutboundOut(
                        .head(HTTPResponseHead(version: .http1_1, status: status, headers: responseHeaders))),
                    promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

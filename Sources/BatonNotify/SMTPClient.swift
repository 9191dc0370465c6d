import BatonModel
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// One email through SMTP (RFC 5321), with STARTTLS (RFC 3207) before anything is said but
/// EHLO, AUTH PLAIN (RFC 4616) when the receiver names a user, and the message in base64 so
/// that no line of it needs escaping.
struct SMTPClient {
    var receiver: Receiver
    var password: String?
    var timeout: Duration

    func send(_ notification: RunNotification) async throws(DeliveryError) {
        guard let (host, port) = receiver.smtpAddress, let from = receiver.from, !receiver.to.isEmpty else {
            throw DeliveryError("an email receiver needs smtp, from and at least one address")
        }
        let receiver = self.receiver, password = self.password, timeout = self.timeout
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await Self.conversation(
                        host: host, port: port, from: from, receiver: receiver, password: password,
                        message: Self.message(notification, from: from, to: receiver.to))
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw DeliveryError("\(host):\(port) did not finish within \(timeout.components.seconds) s")
                }
                try await group.next()
                group.cancelAll()
            }
        } catch let error as DeliveryError {
            throw error
        } catch {
            throw DeliveryError("\(host):\(port): \(error)")
        }
    }

    static func conversation(
        host: String, port: Int, from: String, receiver: Receiver, password: String?, message: String
    ) async throws {
        let (replies, continuation) = AsyncThrowingStream<SMTPReply, any Error>.makeStream()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                    try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler(continuation))
                }
            }
            .connect(host: host, port: port).get()
        var session = SMTPSession(channel: channel, replies: replies.makeAsyncIterator(), server: "\(host):\(port)")
        do {
            _ = try await session.expect(220, after: "connecting")
            let name = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }
            let hello = "EHLO \(name.isEmpty ? "baton" : name)"
            var features = try await session.command(hello, expect: 250)
            if receiver.startTLS {
                guard features.lines.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) else {
                    throw DeliveryError("\(host):\(port) does not offer STARTTLS; Baton sends no mail in the clear")
                }
                _ = try await session.command("STARTTLS", expect: 220)
                var configuration = TLSConfiguration.makeClientConfiguration()
                if let caFile = receiver.caFile { configuration.additionalTrustRoots = [.file(caFile)] }
                let context = try NIOSSLContext(configuration: configuration)
                try await channel.eventLoop.submit {
                    let handler = try NIOSSLClientHandler(context: context, serverHostname: host)
                    try channel.pipeline.syncOperations.addHandler(handler, position: .first)
                }.get()
                features = try await session.command(hello, expect: 250)
            }
            if let user = receiver.username {
                let token = Data("\0\(user)\0\(password ?? "")".utf8).base64EncodedString()
                _ = try await session.command("AUTH PLAIN \(token)", expect: 235, shown: "AUTH PLAIN")
            }
            _ = try await session.command("MAIL FROM:<\(from)>", expect: 250)
            for address in receiver.to { _ = try await session.command("RCPT TO:<\(address)>", expect: 250) }
            _ = try await session.command("DATA", expect: 354)
            _ = try await session.command(message + "\r\n.", expect: 250, shown: "the message")
            _ = try? await session.command("QUIT", expect: 221)
        } catch {
            try? await channel.close()
            throw error
        }
        try? await channel.close()
    }

    /// The message (RFC 5322): headers without line breaks from any value, the subject
    /// encoded (RFC 2047) when it is not ASCII, the text in base64.
    static func message(_ notification: RunNotification, from: String, to: [String]) -> String {
        func clean(_ text: String) -> String { String(text.filter { !$0.isNewline && $0 != "\0" }.prefix(900)) }
        let subject = clean(notification.title)
        let encodedSubject =
            subject.allSatisfy(\.isASCII) ? subject : "=?utf-8?B?\(Data(subject.utf8).base64EncodedString())?="
        let date = DateFormatter()
        date.locale = Locale(identifier: "en_US_POSIX")
        date.timeZone = TimeZone(identifier: "UTC")
        date.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let domain = from.split(separator: "@").last.map(String.init) ?? "baton"
        let body = Data((notification.lines.joined(separator: "\r\n") + "\r\n").utf8).base64EncodedString(
            options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        return [
            "From: Baton <\(from)>", "To: \(to.joined(separator: ", "))", "Subject: \(encodedSubject)",
            "Date: \(date.string(from: Date()))",
            "Message-ID: <\(notification.id.replacingOccurrences(of: "/", with: "."))@\(domain)>",
            "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64",
            "X-Baton-Event: \(notification.event.rawValue)", "X-Baton-Delivery: \(clean(notification.id))", "", body,
        ].joined(separator: "\r\n")
    }
}

/// A reply: its code and its lines' text.
struct SMTPReply: Sendable {
    var code: Int
    var lines: [String]
}

/// The conversation's side that waits for replies.
struct SMTPSession {
    let channel: any Channel
    var replies: AsyncThrowingStream<SMTPReply, any Error>.AsyncIterator
    let server: String

    mutating func expect(_ code: Int, after what: String) async throws -> SMTPReply {
        guard let reply = try await replies.next() else {
            throw DeliveryError("\(server) closed the connection after \(what)")
        }
        guard reply.code == code else {
            throw DeliveryError(
                "\(server) answered \(what) with \(reply.code) \(reply.lines.joined(separator: " ").prefix(200))")
        }
        return reply
    }

    mutating func command(_ text: String, expect code: Int, shown: String? = nil) async throws -> SMTPReply {
        try await channel.writeAndFlush(ByteBuffer(string: text + "\r\n"))
        return try await expect(code, after: shown ?? text)
    }
}

/// Lines into replies: `250-…` lines continue one, `250 …` ends it.
final class SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply
    var lines: [String] = []

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let end = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            guard buffer.readableBytes < 16 * 1024 else { throw DeliveryError("the server sent a line too long") }
            return .needMoreData
        }
        let line = buffer.readString(length: end - buffer.readerIndex + 1)!
            .trimmingCharacters(in: .newlines)
        let characters = Array(line)
        guard characters.count >= 3, let code = Int(String(characters[0..<3])) else {
            throw DeliveryError("the server sent '\(line.prefix(100))', not an SMTP reply")
        }
        lines.append(characters.count > 4 ? String(characters[4...]) : "")
        guard lines.count <= 100 else { throw DeliveryError("the server sent a reply too long") }
        if characters.count > 3, characters[3] == "-" { return .continue }
        context.fireChannelRead(wrapInboundOut(SMTPReply(code: code, lines: lines)))
        lines = []
        return .continue
    }
}

/// Hands replies to the conversation.
final class SMTPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = SMTPReply
    let continuation: AsyncThrowingStream<SMTPReply, any Error>.Continuation

    init(_ continuation: AsyncThrowingStream<SMTPReply, any Error>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }
}

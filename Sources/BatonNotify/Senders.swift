import AsyncHTTPClient
import BatonModel
import Foundation
import NIOCore
import NIOHTTP1

/// Why a message was not delivered: said in `baton status` and the log, and tried again.
public struct DeliveryError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// Sends notifications to the receivers an inventory names.
public struct Senders: Sendable {
    /// How long one message may take, connection included.
    public var timeout: Duration

    public init(timeout: Duration = .seconds(15)) {
        self.timeout = timeout
    }

    /// Sends `notification` to `receiver`, or throws why not.
    public func send(_ notification: RunNotification, to receiver: Receiver) async throws(DeliveryError) {
        var secret: String?
        if let source = receiver.secret {
            guard let read = source.read(), !read.isEmpty else {
                throw DeliveryError("its secret cannot be read from \(source.label)")
            }
            secret = read
        }
        let message = notification.message(for: receiver.kind, secret: secret)
        switch receiver.kind {
        case .webhook, .teams, .slack:
            try await post(message, to: receiver.url ?? "")
        case .email:
            var password: String?
            if let source = receiver.password {
                guard let read = source.read() else {
                    throw DeliveryError("its password cannot be read from \(source.label)")
                }
                password = read
            }
            try await SMTPClient(receiver: receiver, password: password, timeout: timeout).send(notification)
        }
    }

    func post(_ message: OutgoingMessage, to url: String) async throws(DeliveryError) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for header in message.headers { request.headers.add(name: header.name, value: header.value) }
        request.headers.add(name: "User-Agent", value: "Baton")
        request.body = .bytes(ByteBuffer(bytes: message.body))
        let seconds = Int64(timeout.components.seconds)
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(seconds))
            let answer = try await response.body.collect(upTo: 64 * 1024)
            guard (200..<300).contains(response.status.code) else {
                let text = String(buffer: answer).prefix(200)
                throw DeliveryError(
                    "it answered \(response.status.code) \(response.status.reasonPhrase)\(text.isEmpty ? "" : ": \(text)")"
                )
            }
        } catch let error as DeliveryError {
            throw error
        } catch {
            throw DeliveryError("\(URL(string: url)?.host ?? url) cannot be reached: \(error)")
        }
    }
}

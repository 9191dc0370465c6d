import Foundation
import Hummingbird

/// What the API answers when it cannot do what was asked: a status and a JSON body with a
/// message for a person, every located problem of an inventory (`FILE:LINE:COLUMN: error: …`)
/// and, for a refusal, the rule that refuses.
public struct APIError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var problems: [String]
    public var rule: String?
    /// Seconds after which to try again (503).
    public var retryAfter: Int?
    /// Close the connection once answered: the request's body was not read to its end.
    public var closesConnection = false

    public init(
        _ status: HTTPResponse.Status, _ message: String, problems: [String] = [], rule: String? = nil,
        retryAfter: Int? = nil
    ) {
        self.status = status
        self.message = message
        self.problems = problems
        self.rule = rule
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(message)" }

    struct Body: Encodable {
        var error: String
        var problems: [String]?
        var rule: String?
    }

    /// At most this many problems are listed, as on the command line; a line says how many more.
    static let problemLimit = 200
    /// A problem or message longer than this is cut, saying so.
    static let lineLimit = 2000

    /// The problems as answered: at most `problemLimit`, each at most `lineLimit` characters.
    var listedProblems: [String] {
        var listed = problems.prefix(Self.problemLimit).map(Self.cut)
        if problems.count > Self.problemLimit {
            listed.append("… and \(problems.count - Self.problemLimit) more problem(s) not listed")
        }
        return listed
    }

    static func cut(_ text: String) -> String {
        text.count <= lineLimit ? text : text.prefix(lineLimit) + " … (cut)"
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONResponse(
            Body(error: Self.cut(message), problems: problems.isEmpty ? nil : listedProblems, rule: rule),
            status: status
        ).response(from: request, context: context)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"baton\"" }
        // A refused caller's body may still be arriving, slowly: the connection is closed once
        // answered rather than read to its end.
        if [.unauthorized, .contentTooLarge, .requestTimeout].contains(status) || closesConnection {
            response.headers[.connection] = "close"
        }
        if let retryAfter { response.headers[.retryAfter] = "\(retryAfter)" }
        return response
    }
}

/// A JSON body with sorted keys, so the same state gives the same bytes.
struct JSONResponse<Value: Encodable>: ResponseGenerator {
    var value: Value
    var status: HTTPResponse.Status = .ok

    init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}

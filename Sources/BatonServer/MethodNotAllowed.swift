import Hummingbird

/// Answers 405 with `Allow` for a path the API has but a method it does not take, where the
/// router alone would say 404: a client that used the wrong method learns which are right.
struct MethodNotAllowed: RouterMiddleware {
    typealias Context = BatonRequestContext

    let routes: [(method: HTTPRequest.Method, path: String)]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = routes.filter { Self.matches($0.path, request.uri.path) }.map(\.method.rawValue)
            guard !allowed.isEmpty else { throw error }
            var response = try APIError(
                .methodNotAllowed,
                "\(request.method.rawValue) is not taken here; use \(allowed.joined(separator: ", "))"
            ).response(from: request, context: context)
            response.headers[.allow] = allowed.joined(separator: ", ")
            return response
        }
    }

    /// Whether `path` fits `pattern`, whose `:name` segments match any one segment.
    static func matches(_ pattern: String, _ path: String) -> Bool {
        let expected = pattern.split(separator: "/"), actual = path.split(separator: "/")
        return expected.count == actual.count
            && zip(expected, actual).allSatisfy { $0.hasPrefix(":") ? !$1.isEmpty : $0 == $1 }
    }
}

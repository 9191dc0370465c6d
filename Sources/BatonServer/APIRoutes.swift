import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import BatonRuns
import BatonStore
import Foundation
import Hummingbird
import NIOCore

/// The HTTP API of `baton serve` (documented in `openapi.yaml`): reads are open to whoever
/// reaches the server; every call that changes something needs a bearer token of the right
/// role, and the audit trail names the token's owner.
struct APIRoutes: Sendable {
    let coordinator: RunCoordinator
    let tokens: AccessTokens
    let metrics: MetricsExporter
    /// The folder `inventoryPath` is read from (`baton serve --inventories DIR`); nil takes
    /// inline inventories only.
    var inventories: String? = nil
    var limits = ServerLimits()
    /// Requests planning an organization (plans and new runs) now.
    let planning: Gauge
    /// Where they plan: off the threads that serve requests and drive runs.
    let planner: PlanningPool
    /// Event streams open now, in all and per client.
    let streams: Gauge
    let feed: TransitionFeed
    /// Reads need a token: the dashboard is served without the run in it, and asks for one.
    let readsNeedToken: Bool

    init(
        coordinator: RunCoordinator, tokens: AccessTokens, metrics: MetricsExporter, feed: TransitionFeed,
        inventories: String?, limits: ServerLimits, planner: PlanningPool, readsNeedToken: Bool = false
    ) {
        self.planner = planner
        self.feed = feed
        self.readsNeedToken = readsNeedToken
        self.coordinator = coordinator
        self.tokens = tokens
        self.metrics = metrics
        self.inventories = inventories
        self.limits = limits
        planning = Gauge("plans", limit: limits.concurrentPlans)
        streams = Gauge("event streams", limit: limits.streams, perKey: limits.streamsPerClient)
    }

    var journal: any Journal { coordinator.journal }

    func register(on router: Router<BatonRequestContext>) {
        var routes: [(method: HTTPRequest.Method, path: String)] = []
        func get(
            _ path: String,
            _ handler: @escaping @Sendable (Request, BatonRequestContext) async throws -> some ResponseGenerator
        ) {
            routes.append((.get, path))
            router.get(RouterPath(path), use: handler)
        }
        func post(
            _ path: String,
            _ handler: @escaping @Sendable (Request, BatonRequestContext) async throws -> some ResponseGenerator
        ) {
            routes.append((.post, path))
            router.post(RouterPath(path), use: handler)
        }
        get("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: try await dashboard())))
        }
        get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_yaml)))
        }
        get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: try await metrics.exposition())))
        }
        get("/api/runs") { _, _ in JSONResponse(try await coordinator.summaries()) }
        post("/api/runs") { request, context in try await startRun(request, context) }
        get("/api/runs/:id") { _, context in
            JSONResponse(try await coordinator.detail(RunID(try context.parameters.require("id"))))
        }
        get("/api/runs/:id/events") { request, context in
            try await EventStream(
                journal: journal, coordinator: coordinator, feed: feed, streams: streams, client: context.client
            )
            .response(
                run: RunID(try context.parameters.require("id")), lastEventID: request.headers[.init("Last-Event-ID")!],
                request: request)
        }
        post("/api/runs/:id/approvals") { request, context in
            let caller = try await authorize(request, .approver)
            let id = RunID(try context.parameters.require("id"))
            let body = try await decode(ApprovalRequest.self, request, context)
            try await coordinator.approve(id, gate: body.gate, by: caller)
            return JSONResponse(try await coordinator.detail(id), status: .created)
        }
        post("/api/runs/:id/abort") { request, context in
            let caller = try await authorize(request, .operator)
            let id = RunID(try context.parameters.require("id"))
            try await coordinator.abort(id, by: caller)
            return JSONResponse(try await coordinator.detail(id), status: .accepted)
        }
        post("/api/runs/:id/resume") { request, context in
            let caller = try await authorize(request, .operator)
            let id = RunID(try context.parameters.require("id"))
            let body = try await decodeIfPresent(ResumeRequest.self, request, context) ?? ResumeRequest()
            try await coordinator.resume(id, settings: try body.settings(), by: caller)
            return JSONResponse(try await coordinator.detail(id), status: .accepted)
        }
        get("/api/runs/:id/report") { request, context in
            try await report(
                RunID(try context.parameters.require("id")), format: request.uri.queryParameters.get("format"))
        }
        post("/api/plans") { request, context in
            _ = try await authorize(request, .viewer)
            let body = try await decode(PlanRequest.self, request, context)
            let format = try PlanFormat(rawValue: body.format ?? "json").unwrap(
                APIError(
                    .badRequest, "format must be one of: \(PlanFormat.allCases.map(\.rawValue).joined(separator: ", "))"
                ))
            let text = try await planning.counted {
                try await planner.run {
                    format.render(
                        try RunCoordinator.plan(try limited(try body.loadInventory(from: inventories)), body.package).1)
                }
            }
            let type =
                switch format {
                case .json: "application/json"
                case .markdown: "text/markdown; charset=utf-8"
                case .dot: "text/vnd.graphviz; charset=utf-8"
                case .text, .mermaid: "text/plain; charset=utf-8"
                }
            return Response(
                status: .ok, headers: [.contentType: type],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        get("/api/lab") { _, _ in
            guard try await coordinator.store.exists() else {
                throw APIError(.notFound, "no lab twin in the state directory yet: start a run first")
            }
            return JSONResponse(LabView(try await coordinator.store.load()))
        }
        router.add(middleware: MethodNotAllowed(routes: routes))
    }

    // MARK: Handlers

    func startRun(_ request: Request, _ context: BatonRequestContext) async throws -> Response {
        let caller = try await authorize(request, .operator)
        let body = try await decode(RunRequest.self, request, context)
        if let name = body.name, !RunService.isRunName(name) {
            throw APIError(.badRequest, "a run's name has \(RunID.nameRule)")
        }
        if let twin = body.twin, !TwinName.isValidName(twin) {
            throw APIError(.badRequest, "a twin's name has \(TwinName.nameRule)")
        }
        if let link = body.releaseNotes { try Self.checkLink(link) }
        let settings = RunSettings(
            speed: try RunRequest.speed(body.speed), parallel: try RunRequest.parallel(body.parallel),
            approveAll: body.approveAll ?? false)
        let id = try await planning.counted {
            let (inventory, package, plan) = try await planner.run {
                // A run reads its file again (to resume, to reach its hosts): where it is.
                let inventory = try limited(try body.loadInventory(from: inventories, keepingWhereRead: true))
                if body.inventory != nil {
                    // A rehearsal runs nothing on the controller, but still sends its notifications.
                    try Self.refuseControllerPowers(
                        inventory, for: caller, rehearsal: RunTarget(inventory, lab: body.lab ?? false) == .lab)
                }
                let (package, plan) = try Self.plan(body, inventory: inventory)
                return (inventory, package, plan)
            }
            if body.plan != nil, RunTarget(inventory, lab: body.lab ?? false) == .lab, !(body.freshLab ?? false) {
                try await coordinator.checkBuilds(plan, twin: body.twin.map { TwinName($0) } ?? .standard)
            }
            return try await coordinator.start(
                inventory: inventory, inlineText: body.inventory, package: package, plan: plan,
                name: body.name.map { RunID($0) },
                lab: body.lab ?? false, twin: body.twin.map { TwinName($0) } ?? .standard,
                freshLab: body.freshLab ?? false, releaseNotes: body.releaseNotes,
                settings: settings, by: caller)
        }
        var response = try JSONResponse(try await coordinator.detail(id), status: .created).response(
            from: request, context: context)
        response.headers[.location] = "/api/runs/\(id)"
        return response
    }

    /// The plan a run request asks for: of one package, toward a target, or a saved plan
    /// checked against the inventory given with it (rule `saved-plan`: 400 when it was edited,
    /// 422 when the inventory is not the one it was made from).
    static func plan(_ body: RunRequest, inventory: Inventory) throws -> (Package, Plan) {
        switch (body.package, body.to, body.plan) {
        case (let package?, nil, nil):
            return try RunCoordinator.plan(inventory, .init(.package(package), limit: body.limit))
        case (nil, let text?, nil):
            guard let target = UpdateTarget(text) else {
                throw APIError(.badRequest, "'to' takes latest, latest-cu or a monthly release's name (feb26)")
            }
            return try RunCoordinator.plan(inventory, .init(.target(target), limit: body.limit))
        case (nil, nil, let text?):
            guard body.limit == nil else {
                throw APIError(.badRequest, "a saved plan carries its own limit: give 'plan' without 'limit'")
            }
            let saved: Plan
            do { saved = try JSONRenderer.decode(text) } catch {
                throw APIError(.badRequest, "'plan' is not a plan Baton saved")
            }
            if let catalogue = saved.madeFrom?.catalogue {
                throw APIError(
                    .unprocessableContent,
                    "the plan was made with the catalogue file \(catalogue), which the server does not read: run it with baton run FILE",
                    rule: Rule.ID.savedPlan.rawValue)
            }
            let bytes = Array((body.inventory.map { Data($0.utf8) } ?? FileManager.default.contents(atPath: inventory.file) ?? Data()))
            do {
                return try SavedPlan.verify(saved, inventory: inventory, inventoryBytes: bytes, catalogueBytes: nil)
            } catch {
                switch error {
                case .edited(let problems):
                    throw APIError(.badRequest, "the saved plan was edited (rule saved-plan)", problems: problems)
                case .changed(let problems):
                    throw APIError(
                        .unprocessableContent, "refused: the plan was made from another organization than the one given",
                        problems: problems, rule: Rule.ID.savedPlan.rawValue)
                }
            }
        default:
            throw APIError(.badRequest, "give exactly one of 'package', 'to' and 'plan'")
        }
    }

    /// An inventory given inline that would make the controller run commands of its own
    /// choosing is an administrator's to give: 403 for anyone else, naming each key and why.
    /// Files in the server's `--inventories` folder were placed by an administrator.
    static func refuseControllerPowers(_ inventory: Inventory, for caller: Caller, rehearsal: Bool = false) throws {
        let powers = inventory.controllerPowers.filter { !rehearsal || $0.kind == .notify }
        guard caller.role != .admin, !powers.isEmpty else { return }
        throw APIError(
            .forbidden,
            "\(caller.name) has the \(caller.role.rawValue) role, and this inventory would make the machine that runs baton serve act on its say (run commands of its own, or send messages with the secrets it names); an inventory with \(Set(powers.map(\.kind.written)).sorted().map { "'\($0)'" }.joined(separator: ", ")) is taken from the server's --inventories folder, or inline from an admin token ('baton token create --role admin')",
            problems: powers.map(\.description))
    }

    /// The dashboard with the newest run and the twin in it, so the page shows them at once.
    func dashboard() async throws -> String {
        struct Initial: Encodable {
            var runs: [RunSummary]
            var run: RunDetail?
            var lab: LabView?
            /// The newest run's last events, oldest first.
            var events: [EventStream.TransitionEvent]
        }
        let runs = try await coordinator.summaries()
        let store = coordinator.store
        var initial = Initial(
            runs: runs, run: nil, lab: try await store.exists() ? LabView(try await store.load()) : nil, events: [])
        if let newest = runs.last?.run {
            initial.run = try await coordinator.detail(newest)
            initial.events = try await EventStream.events(
                journal.transitions(run: newest).suffix(50), of: newest, journal: journal)
        }
        guard !readsNeedToken else { return String(decoding: PackageResources.dashboard_html, as: UTF8.self) }
        let json = Self.scriptSafe(try Self.encoded(initial))
        return String(decoding: PackageResources.dashboard_html, as: UTF8.self).replacingOccurrences(
            of: "<script id=\"initial\" type=\"application/json\">null</script>",
            with: "<script id=\"initial\" type=\"application/json\">\(json)</script>")
    }

    func report(_ id: RunID, format: String?) async throws -> Response {
        let report: RunReport
        do { report = try await coordinator.service.report(id) } catch { throw APIError(error) }
        let (type, text): (String, String) =
            switch format ?? "json" {
            case "text": ("text/plain; charset=utf-8", report.text())
            case "markdown": ("text/markdown; charset=utf-8", report.markdown())
            case "html": ("text/html; charset=utf-8", report.html())
            case "json":
                ("application/json", try Self.encoded(report))
            default: throw APIError(.badRequest, "format must be one of: json, text, markdown, html")
            }
        return Response(
            status: .ok, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// An organization no larger than this server plans (`--max-machines`): 413 beyond.
    func limited(_ inventory: Inventory) throws -> Inventory {
        let machines = inventory.servers.count + inventory.clusters.reduce(0) { $0 + $1.nodes.count }
        guard machines <= limits.machines else {
            throw APIError(
                .contentTooLarge,
                "the organization has \(machines) machines; this server plans at most \(limits.machines) (baton serve --max-machines)"
            )
        }
        return inventory
    }

    /// A link people will follow: `https` or `http` with a host, nothing else (`javascript:`,
    /// `data:`, `file:` …), at most 2,000 characters.
    static func checkLink(_ link: String) throws {
        guard link.count <= 2000, let url = URL(string: link), let scheme = url.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = url.host, !host.isEmpty,
            !link.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == " " })
        else {
            throw APIError(.badRequest, "releaseNotes must be an https:// or http:// address")
        }
    }

    /// JSON to embed in a script element: `<`, `>` and `&` written as `\u003c`, `\u003e` and
    /// `\u0026` (they occur only inside strings, where JSON reads them back the same), so no
    /// text of a run can end the element (`</script>`) or send the HTML tokenizer into its
    /// escaped states (`<!--`, `<script`), which would swallow the page's own script.
    static func scriptSafe(_ json: String) -> String {
        var safe = ""
        safe.reserveCapacity(json.utf8.count)
        for scalar in json.unicodeScalars {
            switch scalar {
            case "<": safe += "\\u003c"
            case ">": safe += "\\u003e"
            case "&": safe += "\\u0026"
            default: safe.unicodeScalars.append(scalar)
            }
        }
        return safe
    }

    static func encoded(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    // MARK: Authorisation and bodies

    /// The caller behind the request's bearer token: 401 without a token the store knows,
    /// 403 when its role may not make this call. The token itself is never logged or kept.
    func authorize(_ request: Request, _ needed: AccessRole) async throws -> Caller {
        try await Self.caller(request, needed, tokens: tokens)
    }

    static func caller(_ request: Request, _ needed: AccessRole, tokens: AccessTokens) async throws -> Caller {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw APIError(.unauthorized, "this call needs 'Authorization: Bearer TOKEN' (see 'baton token create')")
        }
        let token = header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        guard let caller = try await tokens.caller(token: token) else {
            throw APIError(.unauthorized, "the token is not known to this server, or has expired")
        }
        guard caller.role.may(needed) else {
            throw APIError(
                .forbidden, "\(caller.name) has the \(caller.role.rawValue) role; this call needs \(needed.rawValue)")
        }
        return caller
    }

    /// The request's body, read whole within `time`: 413 past 16 MiB, 408 when it has not all
    /// arrived in time (a body trickled in a byte at a time must not hold the connection), 400
    /// when it is not well-formed HTTP (a broken chunked encoding). Each closes the connection
    /// (`APIError.response`).
    static func body(of request: Request, within time: Duration) async throws -> ByteBuffer {
        let limit = InventoryLoader.maximumSize + 65536
        let outcome: Result<ByteBuffer, any Error>? = await within(time) {
            var request = request
            do { return .success(try await request.collectBody(upTo: limit)) } catch { return .failure(error) }
        }
        switch outcome {
        case .success(let buffer)?: return buffer
        case nil:
            throw APIError(.requestTimeout, "the body did not arrive within \(time.components.seconds) seconds")
        case .failure(let failure)? where failure is NIOTooManyBytesError:
            throw APIError(.contentTooLarge, "the body is larger than \(InventoryLoader.maximumSize >> 20) MiB")
        case .failure?:
            var error = APIError(.badRequest, "the body could not be read as HTTP (a broken chunked encoding?)")
            error.closesConnection = true
            throw error
        }
    }

    func decode<Body: APIRoutes.Body>(_ type: Body.Type, _ request: Request, _ context: BatonRequestContext)
        async throws
        -> Body
    {
        guard let body = try await decodeIfPresent(type, request, context) else {
            throw APIError(.badRequest, "this call needs a JSON body")
        }
        return body
    }

    func decodeIfPresent<Body: APIRoutes.Body>(_ type: Body.Type, _ request: Request, _ context: BatonRequestContext)
        async throws -> Body?
    {
        let buffer = try await Self.body(of: request, within: limits.bodyTime)
        guard buffer.readableBytes > 0 else { return nil }
        let data = Data(buffer.readableBytesView)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw APIError(.badRequest, "the body is not a JSON object")
        }
        let unknown = Set(object.keys).subtracting(Body.keys).sorted()
        guard unknown.isEmpty else {
            throw APIError(
                .badRequest,
                "unknown \(unknown.count == 1 ? "key" : "keys") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); this call takes \(Body.keys.sorted().joined(separator: ", "))"
            )
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError(.badRequest, "the body needs '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError(.badRequest, "'\(path)' has the wrong type: \(context.debugDescription)")
        } catch {
            throw APIError(.badRequest, "the body is not the JSON this call takes")
        }
    }
}

extension Optional {
    func unwrap(_ error: @autoclosure () -> some Error) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}

import Foundation
import Testing

/// What a person and a client program meet: the dashboard in a real headless browser during a
/// live lab run, and the API checked against its OpenAPI document by schemathesis.
@Suite("The dashboard and the API document", .serialized)
struct DashboardTests {
    static let browser = ["chromium", "chromium-browser", "google-chrome"].lazy.compactMap(BatonProcess.which).first

    @Test("a headless browser shows the organization's virtual servers and the run's steps, live")
    func dashboardInABrowser() async throws {
        guard let browser = Self.browser else {
            Issue.record("no Chromium to load the dashboard with: install Debian's chromium (.ci/run does)")
            return
        }
        let server = try await ServeProcess(state: BatonProcess.temporaryPath("serve-dashboard"))
        defer { server.stop() }
        let token = try server.token("operator", name: "olga")
        let created = try await server.call(
            .POST, "/api/runs", token: token,
            body: [
                "package": "exchange-2003-sp2", "inventoryPath": "examples/contoso.yaml", "speed": "300",
                "approveAll": true,
            ])
        #expect(created.status == 201)
        let steps = try #require(created.object["steps"] as? [[String: Any]]).compactMap { $0["id"] as? String }
        // Live: some steps done, the run still going.
        try await server.waitForSucceeded(12)

        let shot = BatonProcess.temporaryPath("dashboard") + ".png"
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--timeout=5000"]
        let picture = try BatonProcess.run(
            ["__exec", browser] + common + ["--window-size=1440,1000", "--screenshot=\(shot)", server.url + "/"])
        #expect(FileManager.default.fileExists(atPath: shot), "\(picture.stderr)")
        let colours = try BatonProcess.run(["__exec", "/usr/bin/env", "python3", "scripts/png-colours.py", shot])
        let count = Int(colours.stdout.split(separator: " ").dropFirst().first ?? "") ?? 0
        #expect(colours.stdout.hasPrefix("1440x1000 "), "\(colours.stdout)\(colours.stderr)")
        #expect(count > 100, "a blank page has a colour or two; this one has \(count)")

        let dom = try BatonProcess.run(["__exec", browser] + common + ["--dump-dom", server.url + "/"]).stdout
        #expect(dom.contains("<b>EVS1</b>"))
        #expect(dom.contains("Cluster EXCL1"))
        for id in steps { #expect(dom.contains("data-step=\"\(id)\""), "step \(id) missing from the page") }
        #expect(dom.contains("class=\"step succeeded\""))
        #expect(dom.contains("class=\"badge running\""))
        #expect(dom.contains("approved (--yes)"))
        // The run's expected end, from its steps' real durations so far.
        #expect(dom.contains(" · expected end "), "\(dom.prefix(2000))")
        // The timeline: what ran, phase by phase, and what is left to the expected end.
        #expect(dom.contains("aria-label=\"prepare\""), "no 'prepare' row in the timeline")
        #expect(dom.contains("aria-label=\"left\""), "no 'left' row in the timeline")
        #expect(dom.contains("(expected end)"))
        // Each step that ran has its start in the API.
        let detail = try await server.call(.GET, "/api/runs/run-1").object
        let ran = (detail["steps"] as? [[String: Any]] ?? []).filter { $0["state"] as? String == "succeeded" }
        #expect(!ran.isEmpty && ran.allSatisfy { $0["started"] is String && $0["ended"] is String })
    }

    @Test("a DAG run: the browser shows each DAG's members and every database where it is mounted now")
    func dagsInABrowser() async throws {
        guard let browser = Self.browser else {
            Issue.record("no Chromium to load the dashboard with: install Debian's chromium (.ci/run does)")
            return
        }
        let server = try await ServeProcess(state: BatonProcess.temporaryPath("serve-dags"))
        defer { server.stop() }
        let token = try server.token("operator", name: "olga")
        let created = try await server.call(
            .POST, "/api/runs", token: token,
            body: [
                "package": "exchange-2019-cu15", "inventoryPath": "examples/mx-stretched-dag.yaml", "speed": "2000",
                "approveAll": true,
            ])
        #expect(created.status == 201)
        try await server.waitForSucceeded(20)
        let lab = try await server.call(.GET, "/api/lab")
        let dags = try #require(lab.object["dags"] as? [[String: Any]])
        #expect(dags.first?["name"] as? String == "DAG1")
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--timeout=5000"]
        let dom = try BatonProcess.run(["__exec", browser] + common + ["--dump-dom", server.url + "/"]).stdout
        #expect(dom.contains("DAG DAG1"))
        for database in ["DB01", "DB02", "DB03", "DB04"] { #expect(dom.contains("<b>\(database)</b>")) }
        #expect(dom.contains("mounted on MBX"))
        #expect(dom.contains("MBX3 (lagged)") || dom.contains("MBX1 (lagged)"))
        #expect(dom.contains("Edge servers"))
    }

    @Test("the API and /openapi.yaml agree (schemathesis against the live server)")
    func openAPIConformance() async throws {
        guard let schemathesis = BatonProcess.which("schemathesis") else {
            Issue.record("schemathesis is not installed: 'pip install schemathesis' (.ci/run does)")
            return
        }
        let server = try await ServeProcess(state: BatonProcess.temporaryPath("serve-openapi"))
        defer { server.stop() }
        let token = try server.token("operator", name: "olga")
        // run-1, the document's example id, completed: the run, its report and the twin are real.
        #expect(
            try await server.call(
                .POST, "/api/runs", token: token,
                body: ["package": "exchange-2003-sp2", "inventoryPath": "examples/contoso.yaml", "approveAll": true]
            ).status == 201)
        _ = try await server.events(of: "run-1") { $0.last?.name == "end" }

        let served = try await server.call(.GET, "/openapi.yaml").body
        let document = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent("Sources/BatonServer/Resources/openapi.yaml"),
            encoding: .utf8)
        #expect(served == document)

        // Every check but positive_data_acceptance: a schema cannot say what a valid inventory
        // is, so well-typed random bodies are rightly refused. The event stream never ends
        // while a run goes on; the serve tests read it instead.
        let result = try BatonProcess.run([
            "__exec", schemathesis, "run", server.url + "/openapi.yaml", "-H", "Authorization: Bearer \(token)",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "25",
            "--phases", "examples,coverage,fuzzing", "--exclude-path", "/api/runs/{id}/events", "--seed", "1",
            "--no-color",
        ])
        #expect(result.status == 0, "\(result.stdout.suffix(4000))\(result.stderr)")
        #expect(result.stdout.contains(" passed"))
    }
}

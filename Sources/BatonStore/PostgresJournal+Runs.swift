import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import Foundation
import Logging
import PostgresNIO

/// Runs, their plans and steps, and each step's progress (fenced writes).
extension PostgresJournal {
    // MARK: Runs

    public func createRun(_ run: RunRecord, plan: Plan) async throws {
        let stored = StoredPlan(plan)
        try await transaction { connection in try await Self.insert(run, plan: plan, stored: stored, connection) }
    }

    static func insert(_ run: RunRecord, plan: Plan, stored: StoredPlan, _ connection: PostgresConnection)
        async throws
    {
        let before = String(decoding: try JSONEncoder().encode(run.before), as: UTF8.self)
        let inserted = try await rows(
            """
            INSERT INTO run (id, organization, package, inventory, state, created, plan, before, twin)
            VALUES (\(run.id.rawValue), \(run.organization), \(run.package.spelling), \(run.inventory), \(run.state.rawValue),
                \(run.created), \(stored.header), \(before), \(run.twin?.rawValue))
            ON CONFLICT (id) DO NOTHING RETURNING id
            """, on: connection)
        guard !inserted.isEmpty else { throw RunExists(run: run.id) }
        // One statement for every step, however many: arrays, not a round trip per step.
        let ids = plan.steps.map(\.id.rawValue)
        let actions = plan.steps.map(\.action.rawValue)
        let positions = plan.steps.indices.map { Int64($0) }
        try await connection.query(
            """
            INSERT INTO step (run, id, action, position, state, detail)
            SELECT \(run.id.rawValue), s.id, s.action, s.position, 'pending', s.detail
            FROM unnest(\(ids)::text[], \(actions)::text[], \(positions)::bigint[], \(stored.steps)::text[])
                AS s(id, action, position, detail)
            """, logger: logger)
        try await addTransition(run: run.id, step: nil, state: "created", message: "", on: connection)
    }

    public func createOwnedRun(
        _ record: RunRecord, id: RunID?, plan: Plan, owner: LeaseOwner, expiry: Double, claims: [Claim],
        target: RunTarget, inventoryText: String?
    ) async throws -> Lease {
        let stored = StoredPlan(plan)
        return try await transaction { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(LockKey.ownership.rawValue))", logger: logger)
            var record = record
            if let id {
                record.id = id
            } else {
                record.id = try await Self.nextRunName(connection)
            }
            try await Self.insert(record, plan: plan, stored: stored, connection)
            try await connection.query(
                "UPDATE run SET target = \(target.rawValue), inventory_text = \(inventoryText) WHERE id = \(record.id.rawValue)",
                logger: logger)
            return try await Self.acquire(run: record.id, owner: owner, expiry: expiry, claims: claims, connection)
        }
    }

    static func nextRunName(_ connection: PostgresConnection) async throws -> RunID {
        OwnershipDecision.nextRunName(
            existing: Set(try await rows("SELECT id FROM run", on: connection).map { try $0["id"].decode(String.self) }))
    }

    public func run(_ id: RunID) async throws -> RunRecord? {
        try await query(
            "SELECT id, organization, package, inventory, state, created, before, twin FROM run WHERE id = \(id.rawValue)"
        ).first.map(Self.record)
    }

    public func state(of run: RunID) async throws -> RunState? {
        try await query("SELECT state FROM run WHERE id = \(run.rawValue)").first.map {
            RunState(rawValue: try $0["state"].decode(String.self)) ?? .halted
        }
    }

    public func runs() async throws -> [RunRecord] {
        try await query(
            "SELECT id, organization, package, inventory, state, created, before, twin FROM run ORDER BY created, id"
        ).map(Self.record)
    }

    static func record(_ row: PostgresRandomAccessRow) throws -> RunRecord {
        RunRecord(
            id: RunID(try row["id"].decode(String.self)), organization: try row["organization"].decode(String.self),
            package: PackageID(try row["package"].decode(String.self)), inventory: try row["inventory"].decode(String.self),
            state: RunState(rawValue: try row["state"].decode(String.self)) ?? .halted,
            created: try row["created"].decode(Double.self),
            before: (try? JSONDecoder().decode(
                [String: String].self, from: Data(try row["before"].decode(String.self).utf8))) ?? [:],
            twin: try row["twin"].decode(String?.self).map { TwinName($0) })
    }

    public func plan(of run: RunID) async throws -> Plan? {
        guard let row = try await query("SELECT plan FROM run WHERE id = \(run.rawValue)").first else { return nil }
        let steps = try await query(
            "SELECT detail FROM step WHERE run = \(run.rawValue) AND detail IS NOT NULL ORDER BY position"
        ).map { try $0["detail"].decode(String.self) }
        return try StoredPlan.assemble(header: try row["plan"].decode(String.self), steps: steps)
    }

    public func unfinishedPart(of run: RunID) async throws -> UnfinishedPart? {
        guard let row = try await query("SELECT plan FROM run WHERE id = \(run.rawValue)").first else { return nil }
        let kept = UnfinishedPart.alwaysKept.map(\.rawValue)
        let rows = try await query(
            """
            SELECT id, state, detail FROM step
            WHERE run = \(run.rawValue) AND (state <> 'succeeded' OR action = ANY(\(kept)::text[])) ORDER BY position
            """
        ).map {
            (
                id: try $0["id"].decode(String.self), state: try $0["state"].decode(String.self),
                detail: try $0["detail"].decode(String?.self)
            )
        }
        if let part = try UnfinishedPart(header: try row["plan"].decode(String.self), rows: rows) { return part }
        guard let plan = try await plan(of: run) else { return nil }
        return UnfinishedPart(whole: plan, steps: try await steps(of: run))
    }

    public func steps(of run: RunID) async throws -> [StepRecord] {
        try await query(
            "SELECT id, action, state, attempts, message FROM step WHERE run = \(run.rawValue) ORDER BY position"
        ).map { row in
            StepRecord(
                id: StepID(try row["id"].decode(String.self)), action: try row["action"].decode(String.self),
                state: StepState(rawValue: try row["state"].decode(String.self)) ?? .pending,
                attempts: try row["attempts"].decode(Int.self), message: try row["message"].decode(String.self))
        }
    }

    func column(_ name: String, of run: RunID) async throws -> String? {
        try await query(PostgresQuery(unsafeSQL: "SELECT \(name) FROM run WHERE id = $1", binds: binds(run)))
            .first?[name].decode(String?.self)
    }

    func binds(_ run: RunID) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(run.rawValue)
        return binds
    }

    public func target(of run: RunID) async throws -> RunTarget {
        try RunTarget.stored(try await column("target", of: run), run: run, location: location)
    }

    public func inventoryText(of run: RunID) async throws -> String? { try await column("inventory_text", of: run) }

    public func setReleaseNotes(run: RunID, link: String) async throws {
        _ = try await query("UPDATE run SET release_notes = \(link) WHERE id = \(run.rawValue)")
    }

    public func releaseNotes(of run: RunID) async throws -> String? { try await column("release_notes", of: run) }

    public func keepReport(run: RunID, _ json: String) async throws {
        _ = try await query("UPDATE run SET report = \(json) WHERE id = \(run.rawValue)")
    }

    public func keptReport(of run: RunID) async throws -> String? { try await column("report", of: run) }

    // MARK: Progress

    public func begin(run: RunID, step: StepID) async throws {
        try await record(run: run, [.begin(step)])
    }

    public func finish(run: RunID, step: StepID, state: StepState, message: String) async throws {
        try await record(run: run, [.finish(step, state, message: message)])
    }

    /// Every change in one transaction of four statements, however many steps: the steps
    /// updated and the transitions appended from arrays, in the changes' order.
    public func record(run: RunID, _ changes: [StepChange]) async throws {
        guard !changes.isEmpty else { return }
        if changes.count == 1, let change = changes.first {
            try await write(run: run) { connection in try await Self.apply(change, run: run, on: connection) }
            return
        }
        var ids: [String] = [], states: [String] = [], messages: [String] = [], begins: [Bool] = []
        // No rule is the empty string in the array (NULL in the table).
        var rules: [String] = []
        for change in changes {
            switch change {
            case .begin(let step):
                ids.append(step.rawValue)
                states.append(StepState.running.rawValue)
                messages.append("")
                begins.append(true)
                rules.append("")
            case .finish(let step, let state, let message, let rule):
                ids.append(step.rawValue)
                states.append(state.rawValue)
                messages.append(message)
                begins.append(false)
                rules.append(rule?.rawValue ?? "")
            }
        }
        let order = (0..<Int64(changes.count)).map { $0 }
        try await write(run: run) { connection in
            // A step changed twice in one batch (begun, then finished) ends as its last change says.
            try await connection.query(
                """
                UPDATE step SET state = c.state,
                    attempts = step.attempts + c.begins,
                    message = CASE WHEN c.begins > 0 AND c.last_is_begin THEN step.message ELSE c.message END
                FROM (
                    SELECT id, (array_agg(state ORDER BY n DESC))[1] AS state,
                        (array_agg(message ORDER BY n DESC))[1] AS message,
                        count(*) FILTER (WHERE is_begin)::int AS begins,
                        (array_agg(is_begin ORDER BY n DESC))[1] AS last_is_begin
                    FROM unnest(\(ids)::text[], \(states)::text[], \(messages)::text[], \(begins)::bool[],
                        \(order)::bigint[]) AS u(id, state, message, is_begin, n)
                    GROUP BY id
                ) AS c
                WHERE step.run = \(run.rawValue) AND step.id = c.id
                """, logger: logger)
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(LockKey.transitions.rawValue))", logger: logger)
            try await connection.query(
                """
                INSERT INTO transition (run, step, state, at, message, rule)
                SELECT \(run.rawValue), u.id, u.state, extract(epoch from clock_timestamp()), u.message, NULLIF(u.rule, '')
                FROM unnest(\(ids)::text[], \(states)::text[], \(messages)::text[], \(rules)::text[],
                    \(order)::bigint[]) AS u(id, state, message, rule, n)
                ORDER BY u.n
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(Self.channel), '')", logger: logger)
        }
    }

    /// One change in two statements, by the step's key.
    static func apply(_ change: StepChange, run: RunID, on connection: PostgresConnection) async throws {
        switch change {
        case .begin(let step):
            try await connection.query(
                """
                UPDATE step SET state = 'running', attempts = attempts + 1
                WHERE run = \(run.rawValue) AND id = \(step.rawValue)
                """, logger: logger)
            try await addTransition(run: run, step: step, state: "running", message: "", on: connection)
        case .finish(let step, let state, let message, let rule):
            try await connection.query(
                """
                UPDATE step SET state = \(state.rawValue), message = \(message)
                WHERE run = \(run.rawValue) AND id = \(step.rawValue)
                """, logger: logger)
            try await addTransition(
                run: run, step: step, state: state.rawValue, message: message, rule: rule, on: connection)
        }
    }

    public func setState(run: RunID, _ state: RunState, reason: String) async throws {
        try await write(run: run) { connection in
            try await connection.query(
                "UPDATE run SET state = \(state.rawValue) WHERE id = \(run.rawValue)", logger: logger)
            try await Self.addTransition(run: run, step: nil, state: state.rawValue, message: reason, on: connection)
        }
    }

    public func requestAbort(run: RunID) async throws -> RunState? {
        try await write(run: run) { connection in
            guard
                let row = try await Self.rows(
                    "SELECT state FROM run WHERE id = \(run.rawValue) FOR UPDATE", on: connection
                ).first,
                let current = RunState(rawValue: try row["state"].decode(String.self))
            else { return nil }
            guard !current.isFinished else { return current }
            try await connection.query("UPDATE run SET state = 'aborted' WHERE id = \(run.rawValue)", logger: logger)
            try await Self.addTransition(run: run, step: nil, state: "aborted", message: "", on: connection)
            return current
        }
    }

    public func recordOutput(run: RunID, step: StepID, output: String) async throws {
        try await write(run: run) { connection in
            _ = try await connection.query(
                "UPDATE step SET output = \(output) WHERE run = \(run.rawValue) AND id = \(step.rawValue)",
                logger: logger)
        }
    }

    public func outputs(of run: RunID) async throws -> [StepID: String] {
        var outputs: [StepID: String] = [:]
        for row in try await query(
            "SELECT id, output FROM step WHERE run = \(run.rawValue) AND output IS NOT NULL")
        {
            outputs[StepID(try row["id"].decode(String.self))] = try row["output"].decode(String.self)
        }
        return outputs
    }

    public func transitions(after sequence: Int64, run: RunID?) async throws -> [Transition] {
        let rows =
            if let run {
                try await query(
                    "SELECT * FROM transition WHERE sequence > \(sequence) AND run = \(run.rawValue) ORDER BY sequence")
            } else {
                try await query("SELECT * FROM transition WHERE sequence > \(sequence) ORDER BY sequence")
            }
        return try rows.map { row in
            Transition(
                sequence: try row["sequence"].decode(Int64.self), run: RunID(try row["run"].decode(String.self)),
                step: try row["step"].decode(String?.self).map { StepID($0) },
                state: try row["state"].decode(String.self),
                at: try row["at"].decode(Double.self), message: try row["message"].decode(String.self),
                rule: try row["rule"].decode(String?.self).map { Rule.ID(rawValue: $0) })
        }
    }

    public func markAll(run: RunID, _ state: StepState) async throws {
        _ = try await query("UPDATE step SET state = \(state.rawValue) WHERE run = \(run.rawValue)")
    }
}

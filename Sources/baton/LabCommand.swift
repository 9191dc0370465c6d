import ArgumentParser
import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonStore
import Foundation

/// `baton lab`: the lab twin, where a rollout is practised before production (rule `lab-first`).
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "The lab twin: a simulated copy of an organization that fails the way real servers do.",
        discussion: """
            The twin lives in a state directory (--state, default .baton in the current directory) and survives \
            the process that uses it.
            """,
        subcommands: [Init.self, Show.self, Fault.self, Fix.self, Rehearse.self])

    struct StateOption: ParsableArguments {
        @Option(name: .long, help: "The state directory holding the twin.")
        var state = ".baton"

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Where runs are kept: sqlite:PATH (the default: journal.sqlite in the state directory) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=require|verify-full], shared by a team; also BATON_JOURNAL. With PostgreSQL the lab twin is kept there too.",
                valueName: "address"))
        var journal: String?

        /// Where runs are, for messages: the state directory, or the journal's address (never
        /// with a password) when it is elsewhere.
        var runsPlace: String {
            guard let address = journalAddress, let location = try? JournalLocation.parse(address) else { return state }
            return location.description
        }

        /// `--journal`, else `BATON_JOURNAL`.
        var journalAddress: String? { journal ?? ProcessInfo.processInfo.environment["BATON_JOURNAL"] }

        func validate() throws {
            var folder: ObjCBool = false
            if FileManager.default.fileExists(atPath: state, isDirectory: &folder), !folder.boolValue {
                throw ValidationError(
                    "--state \(state) is a file; name the folder that holds (or will hold) Baton's state")
            }
        }

        /// Where the journal is; a bad address ends the command with exit 2.
        func location() throws -> JournalLocation {
            do {
                return try JournalLocation.resolve(journalAddress, stateDirectory: state)
            } catch {
                Terminal.error("error: \(error)")
                throw ExitCode(ExitStatus.badInput)
            }
        }

        /// Opens the journal (made on first use), or ends the command saying why it cannot be.
        func openJournal() async throws -> any Journal {
            let location = try location()
            do {
                return try await location.open()
            } catch let error as JournalError {
                throw error.exit()
            } catch {
                Terminal.error("error: cannot open the journal \(location.description): \(error)")
                throw ExitCode(ExitStatus.failed)
            }
        }

        /// The journal when there is one to ask: PostgreSQL always, SQLite once its file exists.
        func existingJournal() async throws -> (any Journal)? {
            if case .sqlite(let path) = try location(), !FileManager.default.fileExists(atPath: path) { return nil }
            return try await openJournal()
        }

        /// The twin and the journal that may keep it, opened once for the command.
        func lab(_ twin: TwinOption) async throws -> Lab {
            let journal = try await existingJournal()
            // A SQLite journal keeps no twin: the state directory's store is used then.
            return Lab(store: LabStore(directory: state, journal: journal, twin: twin.twin), journal: journal)
        }
    }

    /// `--twin NAME`: which of the lab twins of a state directory or journal.
    struct TwinOption: ParsableArguments {
        @Option(
            help: ArgumentHelp(
                "Which lab twin: a state directory or journal keeps any number, each its own rehearsal, so several can run at once.",
                valueName: "name"),
            completion: Completions.twins)
        var twin: TwinName = .standard

        func validate() throws {
            guard TwinName.isValidName(twin.rawValue) else {
                throw ValidationError("--twin takes a name of \(TwinName.nameRule)")
            }
        }
    }

    /// The twin a command reads or changes, and the journal that says whether a run holds it.
    struct Lab {
        let store: LabStore
        let journal: (any Journal)?

        func exists() async throws -> Bool { try await store.exists() }

        func load() async throws -> LabTwin {
            do {
                return try await store.load()
            } catch {
                Terminal.error("error: \(error)")
                throw ExitCode(ExitStatus.badInput)
            }
        }

        /// Replaces the twin, unless a live run acts on it: a rollout in flight owns its twin.
        func save(_ twin: LabTwin) async throws {
            try await write(try .whole(twin))
        }

        func write(_ write: TwinWrite) async throws {
            if let journal, let holder = try? await journal.liveClaim(store.claim.resource) {
                Terminal.error(
                    "error: \(OwnershipError.targetBusy(what: store.place, run: holder.run, lease: holder))\n  Nothing was changed. Wait for that run, or abort it."
                )
                throw ExitCode(ExitStatus.failed)
            }
            do {
                try await store.exclusively { try await $0.write(write) }
            } catch {
                Terminal.error("error: \(error)")
                throw ExitCode(ExitStatus.failed)
            }
        }
    }

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Creates a twin of an inventory.")

        @Argument(help: "The inventory (YAML).")
        var inventory: String

        @OptionGroup var state: StateOption
        @OptionGroup var which: TwinOption

        @Option(help: "Seed of the twin's chance (durations, prompted restarts): the same seed, the same run.")
        var seed: UInt64 = 1

        @Flag(help: "Replace a twin that already exists.")
        var force = false

        func run() async throws {
            let lab = try await state.lab(which)
            if try await lab.exists(), !force {
                Terminal.error("error: \(lab.store.place) exists already; use --force to replace it")
                throw ExitCode(ExitStatus.badInput)
            }
            let inventory = try Loading.inventory(path: inventory)
            let twin = LabTwin(inventory: inventory, seed: seed)
            try await lab.save(twin)
            Terminal.out(
                "Lab twin of \(inventory.organization) created in \(state.runsPlace): \(twin.hosts.count) machines, "
                    + (twin.modern.map {
                        "\($0.databases.count) databases in \(inventory.dags.count) DAG\(inventory.dags.count == 1 ? "" : "s")"
                    }
                        ?? "\(twin.groups.count) cluster groups") + ", seed \(seed).\n"
            )
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Shows the twin: machines, groups, history and accounting.")

        @OptionGroup var state: StateOption
        @OptionGroup var which: TwinOption

        @Option(help: "text or json")
        var format: OutputFormat = .text

        enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

        func run() async throws {
            let twin = try await state.lab(which).load()
            switch format {
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                Terminal.out(String(decoding: try encoder.encode(twin), as: UTF8.self) + "\n")
            case .text:
                Terminal.out(LabReport(twin: twin).text())
            }
        }
    }

    struct Fault: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Injects a fault into the twin.",
            discussion: "Kinds: \(LabFault.Kind.allCases.map(\.rawValue).joined(separator: ", ")).")

        @Argument(help: "The kind of fault.", completion: Completions.faultKinds)
        var kind: String?

        @Argument(help: "The host (or, for move-fails, move-hangs and evs-upgrade-fails, the virtual server).")
        var target: String?

        @Option(help: "A YAML file listing faults: faults: [{kind: file-in-use, host: NODE1}].")
        var file: String?

        @OptionGroup var state: StateOption
        @OptionGroup var which: TwinOption

        func run() async throws {
            var faults: [LabFault] = []
            if let file {
                do {
                    faults = try LabFaultFile.load(path: file)
                } catch {
                    Terminal.error(error.description)
                    throw ExitCode(ExitStatus.badInput)
                }
            }
            if let kind {
                guard let parsed = LabFault.Kind(rawValue: kind), let target else {
                    Terminal.error(Self.unknownKind(kind, target: target))
                    throw ExitCode(ExitStatus.badInput)
                }
                faults.append(LabFault(parsed, HostName(target)))
            }
            guard !faults.isEmpty else {
                Terminal.error("error: no fault given: name one, or --file FILE")
                throw ExitCode(ExitStatus.badInput)
            }
            let lab = try await state.lab(which)
            var twin = try await lab.load()
            for fault in faults {
                do {
                    try twin.inject(fault)
                } catch {
                    Terminal.error("error: \(error)")
                    throw ExitCode(ExitStatus.badInput)
                }
                Terminal.out("injected: \(fault)\n")
            }
            try await lab.save(twin)
        }

        /// A kind the twin does not know (with the nearest one), or a kind without its target.
        static func unknownKind(_ kind: String, target: String?) -> String {
            let kinds = LabFault.Kind.allCases.map(\.rawValue)
            if LabFault.Kind(rawValue: kind) != nil {
                return "error: give the host or virtual server of fault \(kind)"
            }
            if let nearest = Spelling.closest(to: kind, among: kinds) {
                return "error: no fault kind '\(kind)'; did you mean '\(nearest)'?"
            }
            return "error: no fault kind '\(kind)'; the kinds are \(kinds.joined(separator: ", "))"
        }
    }

    struct Fix: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Fixes a fault in the twin, as an operator would: the installer ends, disk is freed, Reinstall runs, the host is started."
        )

        @Argument(help: "The kind of fault.", completion: Completions.faultKinds)
        var kind: String

        @Argument(help: "Its host or virtual server.")
        var target: String

        @OptionGroup var state: StateOption
        @OptionGroup var which: TwinOption

        func run() async throws {
            guard let parsed = LabFault.Kind(rawValue: kind) else {
                Terminal.error(Fault.unknownKind(kind, target: ""))
                throw ExitCode(ExitStatus.badInput)
            }
            let lab = try await state.lab(which)
            var twin = try await lab.load()
            do {
                try twin.fix(LabFault(parsed, HostName(target)))
            } catch {
                Terminal.error("error: \(error)")
                throw ExitCode(ExitStatus.badInput)
            }
            try await lab.save(twin)
            Terminal.out("fixed: \(kind) on \(target)\n")
        }
    }

    struct Rehearse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Plays a plan on the twin from its first step, in order, stopping at the first failure.",
            discussion: """
                Uses the twin in the state directory (with any faults injected into it), or makes one from the \
                inventory. The twin is saved after every step.
                """)

        @Argument(help: "The inventory (YAML).")
        var inventory: String

        @Option(
        help: "The package id (without it, Baton says which packages apply to the inventory).",
        completion: Completions.packages)
        var package: PackageID?

        @OptionGroup var state: StateOption
        @OptionGroup var which: TwinOption

        @Option(help: "Seed for a new twin.")
        var seed: UInt64 = 1

        @Option(
            help: "How fast virtual time runs: instant, real, or a factor such as 60 (one virtual minute a second).")
        var speed = "instant"

        func validate() throws {
            guard LabSpeed(speed) != nil else {
                throw ValidationError("--speed takes instant, real or a factor of at least 1")
            }
        }

        func run() async throws {
            let pace = LabSpeed(speed) ?? .instant
            let (inventory, _, plan) = try Loading.plan(path: inventory, packageID: package)
            let lab = try await state.lab(which)
            var twin: LabTwin
            if try await lab.exists() {
                twin = try await lab.load()
            } else {
                twin = LabTwin(inventory: inventory, seed: seed)
                try await lab.save(twin)
            }
            var changes = TwinChanges(saved: twin)
            for step in plan.steps {
                let outcome = twin.perform(step)
                try changes.performed(step, on: twin)
                try await pace.wait(outcome.duration)
                try await lab.write(try changes.take(twin))
                // When the step started on the twin's clock, as `lab show`'s history gives it.
                let clock = LabReport.clock(twin.history.last?.start ?? twin.clock)
                Terminal.out(
                    "\(clock)  \(step.id.rawValue.padded(6))\(outcome.succeeded ? "ok  " : "FAIL")  \(step.summary): \(outcome.message)\n"
                )
                guard outcome.succeeded else {
                    if let rule = outcome.rule.flatMap(Rule.named) {
                        Terminal.out("\nRule \(rule.id): \(rule.text)\n")
                    }
                    Terminal.error(
                        """
                        error: step \(step.id) failed on the lab twin; \(plan.steps.count - (Int(step.id.rawValue.dropFirst()) ?? 0)) steps not run. \
                        The twin keeps its state in \(state.state): inspect it with 'baton lab show', start again with \
                        'baton lab init INVENTORY --force'.
                        """)
                    throw ExitCode(ExitStatus.failed)
                }
            }
            Terminal.out("\n" + LabReport(twin: twin).accountingText())
        }
    }
}

extension JournalError {
    /// Says what is wrong and gives the exit code: 2 for a journal this Baton must not use (a
    /// newer Baton's, an address it cannot read), 1 when it failed while working.
    func exit() -> ExitCode {
        Terminal.error("error: \(self)")
        switch self {
        case .newer, .badLocation: return ExitCode(ExitStatus.badInput)
        case .alreadyApproved, .unusable, .unreachable, .failed: return ExitCode(ExitStatus.failed)
        }
    }
}

import ArgumentParser
import BatonEngine
import BatonRuns
import BatonServer
import Foundation

/// `baton serve`: the dashboard, the HTTP API and the metrics over a state directory.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serves the dashboard, the HTTP API (/api, /openapi.yaml) and Prometheus metrics (/metrics).",
        discussion: """
            It listens on loopback unless told otherwise, and answers only to loopback names, --host and \
            --allowed-host. Reads are open on loopback and need a token (any role) beyond it, or with \
            --require-token-for-reads. Calls that change something need a bearer token of the right role: make \
            one with 'baton token create'. SIGTERM or Ctrl-C stop \
            it gracefully: running steps finish and are journaled; 'baton resume' or POST /api/runs/RUN/resume \
            continues.
            """)

    @OptionGroup var state: LabCommand.StateOption

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 8080

    @Option(help: "A PEM certificate (chain) to serve HTTPS with; needs --tls-key.")
    var tlsCertificate: String?

    @Option(help: "The PEM private key of --tls-certificate.")
    var tlsKey: String?

    @Option(
        help: ArgumentHelp(
            "Seconds without a heartbeat after which another controller may take a run over.",
            valueName: "seconds"))
    var leaseExpiry = RunService.defaultLeaseExpiry

    @Option(
        help: ArgumentHelp(
            "A folder of inventories the API may read by 'inventoryPath' (relative to it); without it the API takes inline inventories only.",
            valueName: "folder"))
    var inventories: String?

    @Option(
        name: .customLong("allowed-host"),
        help: ArgumentHelp(
            "A name the server answers to besides loopback names and --host (repeat for more).", valueName: "name"))
    var allowedHosts: [String] = []

    @Flag(
        inversion: .prefixedNo,
        help: "Whether every read (runs, events, the twin, /metrics) needs a token; on by default beyond loopback.")
    var requireTokenForReads: Bool?

    @Flag(
        inversion: .prefixedNo,
        help:
            "Whether to take over runs whose controller stopped heartbeating, as a standby; on by default with a PostgreSQL journal."
    )
    var adopt: Bool?

    @Option(help: "Plans and new runs the API works out at once; more get 503.")
    var maxPlans = 2

    @Option(help: "Machines (servers and cluster nodes) an organization given to the API may have; more get 413.")
    var maxMachines = 20_000

    @Option(help: "Event streams open at once; more get 503 (a client may hold an eighth of them, at least 4).")
    var maxStreams = 512

    @Option(
        help: ArgumentHelp(
            "Seconds a request's body may take to arrive whole; a slower one gets 408 and its connection closed.",
            valueName: "seconds"))
    var bodyTimeout = 30

    func validate() throws {
        guard (1...3600).contains(bodyTimeout) else { throw ValidationError("--body-timeout takes 1 to 3600 seconds") }
        guard (0...65535).contains(port) else { throw ValidationError("--port takes 0 to 65535") }
        guard maxPlans >= 1, maxMachines >= 1, maxStreams >= 1 else {
            throw ValidationError("--max-plans, --max-machines and --max-streams take 1 or more")
        }
        if let inventories {
            var folder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: inventories, isDirectory: &folder), folder.boolValue else {
                throw ValidationError("--inventories \(inventories) is not a folder")
            }
        }
        guard (1...3600).contains(leaseExpiry) else { throw ValidationError("--lease-expiry takes 1 to 3600 seconds") }
        guard (tlsCertificate == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-certificate and --tls-key go together")
        }
    }

    func run() async throws {
        var configuration = BatonHTTPServer.Configuration(
            stateDirectory: state.state, host: host, port: port, certificate: tlsCertificate, privateKey: tlsKey,
            leaseExpiry: leaseExpiry, inventories: inventories)
        configuration.allowedHosts = allowedHosts
        configuration.journal = try state.location()
        configuration.adoptOrphans = adopt
        configuration.requireTokenForReads = requireTokenForReads
        configuration.limits = ServerLimits(
            concurrentPlans: maxPlans, machines: maxMachines, streams: maxStreams,
            streamsPerClient: max(4, maxStreams / 8), bodyTime: .seconds(bodyTimeout))
        let server = BatonHTTPServer(configuration: configuration)
        let place = state.runsPlace
        do {
            try await server.run { address in
                Terminal.out(
                    "Baton serves \(address)/ (dashboard), \(address)/api, \(address)/metrics; state in \(place)\n"
                )
            }
        } catch let error as ServerError {
            Terminal.error("error: \(error)")
            throw ExitCode(ExitStatus.badInput)
        } catch let error as JournalError {
            throw error.exit()
        } catch {
            Terminal.error("error: baton serve stopped: \(error)")
            throw ExitCode(ExitStatus.failed)
        }
    }
}

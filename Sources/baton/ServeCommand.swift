import ArgumentParser
import BatonRuns
import BatonServer
import Foundation

/// `baton serve`: the dashboard, the HTTP API and the metrics over a state directory.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serves the dashboard, the HTTP API (/api, /openapi.yaml) and Prometheus metrics (/metrics).",
        discussion: """
            Reads are open to whoever reaches the server, so it listens on loopback unless told otherwise. Calls \
            that change something need a bearer token: make one with 'baton token create'. SIGTERM or Ctrl-C stop \
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

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port takes 0 to 65535") }
        guard (1...3600).contains(leaseExpiry) else { throw ValidationError("--lease-expiry takes 1 to 3600 seconds") }
        guard (tlsCertificate == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-certificate and --tls-key go together")
        }
    }

    func run() async throws {
        let server = BatonHTTPServer(
            configuration: .init(
                stateDirectory: state.state, host: host, port: port, certificate: tlsCertificate, privateKey: tlsKey,
                leaseExpiry: leaseExpiry))
        let directory = state.state
        do {
            try await server.run { address in
                Terminal.out(
                    "Baton serves \(address)/ (dashboard), \(address)/api, \(address)/metrics; state in \(directory)\n")
            }
        } catch let error as ServerError {
            Terminal.error("error: \(error)")
            throw ExitCode(ExitStatus.badInput)
        } catch {
            Terminal.error("error: baton serve stopped: \(error)")
            throw ExitCode(ExitStatus.failed)
        }
    }
}

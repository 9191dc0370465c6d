import BatonEngine
import BatonLab
import BatonRuns
import BatonStore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// `baton serve`: the HTTP API, the dashboard and the metrics over one state directory.
/// SIGTERM or SIGINT shut it down gracefully: the runs it carries out stop scheduling, their
/// running steps finish and are journaled, event streams end, then the listener closes.
public struct BatonHTTPServer: Sendable {
    public struct Configuration: Sendable {
        public var stateDirectory: String
        public var host: String
        /// 0 picks a free port; the one bound is printed.
        public var port: Int
        /// PEM files; both or neither.
        public var certificate: String?
        public var privateKey: String?
        /// Seconds without a heartbeat after which another controller may take a run over.
        public var leaseExpiry: Double
        /// Where `inventoryPath` may point (relative to it); nil takes inline inventories only.
        public var inventories: String?
        /// Names the server answers to besides loopback names and `host` (`Host` and `Origin`).
        public var allowedHosts: [String] = []
        /// Whether reads need a token; nil: only when listening beyond loopback.
        public var requireTokenForReads: Bool?
        public var limits = ServerLimits()
        /// The journal; nil: the state directory's SQLite file.
        public var journal: JournalLocation?
        /// Whether to take over runs whose controller stopped heartbeating; nil: with
        /// PostgreSQL (a journal controllers on several machines share), not with SQLite.
        public var adoptOrphans: Bool?

        /// Reads need a token when asked to, or by default when the server listens beyond loopback.
        public var readsNeedToken: Bool {
            requireTokenForReads ?? !["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
        }

        public init(
            stateDirectory: String, host: String = "127.0.0.1", port: Int = 8080, certificate: String? = nil,
            privateKey: String? = nil, leaseExpiry: Double = RunService.defaultLeaseExpiry, inventories: String? = nil
        ) {
            self.inventories = inventories
            self.leaseExpiry = leaseExpiry
            self.stateDirectory = stateDirectory
            self.host = host
            self.port = port
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Serves until a signal asks it to stop. `onListening` gets the address bound, once.
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        var logger = Logger(label: "baton.serve")
        logger.logLevel = .info
        let location = configuration.journal ?? .sqlite(path: configuration.stateDirectory + "/journal.sqlite")
        let journal = try await location.open()
        let coordinator = RunCoordinator(
            service: RunService(
                journal: journal, stateDirectory: configuration.stateDirectory, leaseExpiry: configuration.leaseExpiry),
            logger: logger, adopt: configuration.adoptOrphans ?? location.isShared)
        let router = Router(context: BatonRequestContext.self)
        let tokens = AccessTokens(journal: journal)
        router.add(
            middleware: Entrance(
                allowedHosts: Entrance.allowedHosts(listening: configuration.host, extra: configuration.allowedHosts),
                requireTokenForReads: configuration.readsNeedToken, tokens: tokens,
                contentSecurityPolicy: Entrance.contentSecurityPolicy(
                    dashboard: String(decoding: PackageResources.dashboard_html, as: UTF8.self))))
        let feed = TransitionFeed(service: coordinator.service) { coordinator.isActive($0) }
        let planner = PlanningPool(threads: configuration.limits.concurrentPlans)
        APIRoutes(
            coordinator: coordinator, tokens: tokens, metrics: MetricsExporter(coordinator: coordinator), feed: feed,
            inventories: configuration.inventories, limits: configuration.limits, planner: planner,
            readsNeedToken: configuration.readsNeedToken
        ).register(on: router)

        let scheme = configuration.certificate == nil ? "http" : "https"
        let application = Application(
            router: router, server: try serverBuilder(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "baton"),
            onServerRunning: { [configuration] channel in
                let port = channel.localAddress?.port ?? configuration.port
                onListening("\(scheme)://\(configuration.host):\(port)")
            },
            logger: logger)
        // Shut down in reverse order: the runs drain first while the API still answers; the
        // planning threads go last.
        let group = ServiceGroup(
            configuration: .init(
                services: [planner, application, coordinator, feed], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
            ))
        try await group.run()
    }

    /// A connection that sends no complete request head within this time, or stays idle
    /// between requests that long, is closed (a response being written, such as an event
    /// stream, is not idle).
    static let http1 = HTTP1Channel.Configuration(idleTimeout: .seconds(15))

    func serverBuilder() throws -> HTTPServerBuilder {
        switch (configuration.certificate, configuration.privateKey) {
        case (nil, nil):
            return .http1(configuration: Self.http1)
        case (let certificate?, let key?):
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certificate).map {
                    NIOSSLCertificateSource.certificate($0)
                }
                let tls = TLSConfiguration.makeServerConfiguration(
                    certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
                return try .tls(.http1(configuration: Self.http1), tlsConfiguration: tls)
            } catch {
                throw ServerError.certificate(path: certificate, key: key, reason: "\(error)")
            }
        default:
            throw ServerError.tlsNeedsBoth
        }
    }
}

/// A reason the server cannot start, for a person.
public enum ServerError: Error, CustomStringConvertible, Sendable {
    case certificate(path: String, key: String, reason: String)
    case tlsNeedsBoth

    public var description: String {
        switch self {
        case .certificate(let path, let key, let reason): "cannot use the certificate \(path) and key \(key): \(reason)"
        case .tlsNeedsBoth: "TLS needs both --tls-certificate and --tls-key"
        }
    }
}

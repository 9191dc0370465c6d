import BatonEngine
import Foundation

/// Where the journal is: `--journal` or `BATON_JOURNAL`. `sqlite:PATH` (the default: the state
/// directory's `journal.sqlite`) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…]`.
public enum JournalLocation: Sendable, Hashable {
    case sqlite(path: String)
    case postgres(PostgresAddress)

    /// The address as given, or the state directory's SQLite file when none is.
    public static func resolve(_ text: String?, stateDirectory: String) throws(JournalError) -> JournalLocation {
        guard let text, !text.isEmpty else { return .sqlite(path: stateDirectory + "/journal.sqlite") }
        return try parse(text)
    }

    public static func parse(_ text: String) throws(JournalError) -> JournalLocation {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else {
                throw .badLocation(text, reason: "sqlite: needs a path, as in sqlite:.baton/journal.sqlite")
            }
            return .sqlite(path: path)
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            return .postgres(try PostgresAddress(text))
        }
        throw .badLocation(
            PostgresAddress.redacted(text),
            reason: "use sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=require|verify-full]")
    }

    /// Whether controllers on several machines share it (PostgreSQL), so that a standby may
    /// take over their runs.
    public var isShared: Bool {
        if case .postgres = self { return true }
        return false
    }

    /// For messages and logs: never a password.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let address): address.description
        }
    }

    /// Opens the journal: a SQLite file is made if missing; a PostgreSQL database gets Baton's
    /// tables on first use and is migrated in place. A journal newer than this Baton is refused,
    /// never changed.
    /// `timeout` bounds the wait for a PostgreSQL server's first answer.
    /// A PostgreSQL journal's connection pool runs in `background` (the process's own, which
    /// `baton`'s main runs).
    public func open(timeout: Duration = .seconds(10), background: BackgroundWork = .process) async throws
        -> any Journal
    {
        switch self {
        case .sqlite(let path): return QueuedSQLiteJournal(try SQLiteJournal(path: path))
        case .postgres(let address):
            return try await PostgresJournal(address, timeout: timeout, background: background)
        }
    }
}

/// A PostgreSQL server's address and credentials. The password comes from the address, from
/// `PGPASSWORD`, or from the password file (`PGPASSFILE`, else `~/.pgpass`, in libpq's
/// format `host:port:database:user:password`); it is never printed, logged or stored.
public struct PostgresAddress: Sendable, Hashable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Hashable {
        /// No TLS (a server on loopback, a trusted network).
        case disable
        /// TLS when the server offers it, without checking its certificate (libpq's default).
        case prefer
        /// TLS or no connection, without checking the certificate.
        case require
        /// TLS, the certificate checked against the trusted roots (`sslrootcert`) and the host name.
        case verifyFull = "verify-full"
    }

    public var user: String
    var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode
    /// A PEM file of the roots to trust for `verify-full` (`sslrootcert=`); the system's otherwise.
    public var rootCertificate: String?

    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(JournalError)
    {
        let shown = Self.redacted(text)
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw .badLocation(shown, reason: "it is not an address of the form postgres://USER@HOST[:PORT]/DB")
        }
        guard let user = components.user, !user.isEmpty else {
            throw .badLocation(shown, reason: "it names no user (postgres://USER@HOST/DB)")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw .badLocation(shown, reason: "it names no database (postgres://USER@HOST/DB)")
        }
        self.user = user
        self.host = host
        self.port = components.port ?? 5432
        self.database = database
        self.tls = .prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: item.value ?? "") else {
                    throw .badLocation(shown, reason: "sslmode takes disable, prefer, require or verify-full")
                }
                tls = mode
            case "sslrootcert":
                rootCertificate = item.value
            default:
                throw .badLocation(
                    shown, reason: "unknown parameter '\(item.name)' (Baton reads sslmode and sslrootcert)")
            }
        }
        self.password =
            components.password ?? environment["PGPASSWORD"]
            ?? Self.passwordFile(environment).flatMap {
                Self.password(in: $0, host: host, port: self.port, database: database, user: user)
            }
    }

    /// `postgres://alice@db1:5432/baton?sslmode=require`: everything but the password.
    public var description: String {
        let query = tls == .prefer ? "" : "?sslmode=\(tls.rawValue)"
        return "postgres://\(user)@\(host):\(port)/\(database)\(query)"
    }

    /// The address with any password replaced, for an error about the address itself.
    static func redacted(_ text: String) -> String {
        // The last @ ends the credentials (a password may hold one); they begin after the scheme.
        guard let at = text.range(of: "@", options: .backwards) else { return text }
        let start = text.range(of: "://").map(\.upperBound) ?? text.startIndex
        guard start < at.lowerBound else { return text }
        let credentials = text[start..<at.lowerBound]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at.lowerBound...])
    }

    static func passwordFile(_ environment: [String: String]) -> String? {
        if let file = environment["PGPASSFILE"] { return file }
        return environment["HOME"].map { $0 + "/.pgpass" }
    }

    /// The first matching line of a libpq password file (`*` matches anything; `\:` and `\\`
    /// are escaped characters).
    static func password(in file: String, host: String, port: Int, database: String, user: String) -> String? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            var fields: [String] = [""]
            var escaped = false
            for character in line {
                if escaped {
                    fields[fields.count - 1].append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" && fields.count < 5 {
                    fields.append("")
                } else {
                    fields[fields.count - 1].append(character)
                }
            }
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }
}

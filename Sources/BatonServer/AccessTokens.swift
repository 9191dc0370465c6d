import BatonEngine
import BatonStore
import Crypto
import Foundation

/// Who made a request: the name and role of the token it carried.
public struct Caller: Sendable, Hashable {
    public var name: String
    public var role: AccessRole
}

/// Bearer tokens for the HTTP API. A token is 256 random bits, shown once when made; the state
/// store keeps only its SHA-256, so a copy of the store lets nobody act, and no log ever holds
/// a token. Random tokens need no salt or slow hash: there is nothing to guess from a hash.
public struct AccessTokens: Sendable {
    public let journal: any TokenStore

    public init(journal: any TokenStore) {
        self.journal = journal
    }

    /// Makes a token for `name` with `role`, stores its hash and returns the token itself.
    public func create(name: String, role: AccessRole, expires: Double? = nil) async throws -> String {
        guard Self.isValidName(name) else { throw InvalidTokenName(name: name) }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let token =
            "baton_"
            + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        try await journal.addToken(
            AccessTokenRecord(
                hash: Self.hash(token), name: name, role: role, created: Date().timeIntervalSince1970,
                expires: expires))
        return token
    }

    /// The caller a token stands for, or nil for a token the store does not know (revoked) or
    /// one past its expiry.
    public func caller(token: String) async throws -> Caller? {
        let hash = Self.hash(token)
        guard let record = try await journal.token(hash: hash) else { return nil }
        if let expires = record.expires, expires <= Date().timeIntervalSince1970 { return nil }
        try? await journal.touchToken(hash: hash)
        return Caller(name: record.name, role: record.role)
    }

    /// A holder's name as the audit trail shows it: 1 to 64 letters, digits, spaces, `.`, `_`,
    /// `-` or `@`, starting with a letter or digit and not ending with a space (no markup, no
    /// line breaks, nothing that reads as another entry).
    public static let nameRule = "1 to 64 letters, digits, spaces, '.', '_', '-' or '@', starting with a letter or digit"

    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.count), let first = name.unicodeScalars.first, name.last != " ",
            first.properties.isAlphabetic || ("0"..."9").contains(first)
        else { return false }
        return name.unicodeScalars.allSatisfy {
            $0.properties.isAlphabetic || ("0"..."9").contains($0) || " ._-@".unicodeScalars.contains($0)
        }
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// A token holder's name the audit trail could not show as one name.
public struct InvalidTokenName: Error, CustomStringConvertible {
    public var name: String
    public var description: String {
        "a token's name has \(AccessTokens.nameRule)"
    }
}

import BatonModel
import GRDB

/// Run and step ids are stored as the text they stand for.
extension Identifier: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { rawValue.databaseValue }

    public static func fromDatabaseValue(_ value: DatabaseValue) -> Self? {
        String.fromDatabaseValue(value).map { Self($0) }
    }
}

import GRDB

/// The tables of personal-data breaches (migration `v7-breaches`).
enum BreachSchema {
    static func create(_ db: Database) throws {
    }
}

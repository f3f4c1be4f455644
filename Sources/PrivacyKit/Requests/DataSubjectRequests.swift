import GRDB

/// The tables of data-subject requests (migration `v6-requests`).
enum RequestsSchema {
    static func create(_ db: Database) throws {
    }
}

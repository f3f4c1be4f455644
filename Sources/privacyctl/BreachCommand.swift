import ArgumentParser

extension Privacyctl {
    struct Breach: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record personal-data breaches (not built yet).")
    }
}

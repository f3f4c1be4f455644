import ArgumentParser

extension Privacyctl {
    struct Requests: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Track data-subject requests (not built yet).")
    }
}

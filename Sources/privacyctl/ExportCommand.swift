import ArgumentParser

extension Privacyctl {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export a subject's data package (not built yet).")
    }
}

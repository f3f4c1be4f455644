import ArgumentParser

extension Privacyctl {
    struct Holds: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Legal holds (not built yet).")
    }
    struct Erase: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Erase a subject (not built yet).")
    }
    struct Restrict: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restrict processing (not built yet).")
    }
    struct Sweep: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retention sweep (not built yet).")
    }
    struct Retention: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retention report (not built yet).")
    }
}

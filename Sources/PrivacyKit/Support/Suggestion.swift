/// "Did you mean …?" for a name that is not defined (a role, a purpose, a field): the
/// closest defined name by edit distance, when it is close enough to be a typo.
package enum Suggestion {
    /// The defined name closest to `name`, if at most a third of its letters (and at least
    /// one, at most three edits) differ; ties go to the first in sorted order.
    package static func closest(to name: String, among names: some Sequence<String>) -> String? {
        let target = Array(name.lowercased())
        let limit = min(3, max(1, target.count / 3))
        var best: (name: String, distance: Int)?
        for candidate in names.sorted() {
            let distance = editDistance(target, Array(candidate.lowercased()))
            if distance <= limit, distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.name
    }

    /// " (did you mean 'x'?)", or nothing.
    package static func didYouMean(_ name: String, among names: some Sequence<String>) -> String {
        closest(to: name, among: names).map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// Levenshtein distance, counting a swap of two neighbours as one edit (typing order).
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}

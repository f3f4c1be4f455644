import Foundation
import PrivacyKit
import Synchronization

// Synthetic CRM customers for the records benchmarks: deterministic (customer n is the
// same every time it is asked for, so the baseline, the CSV file and the lookups agree),
// spread over five countries, with the formats a real export has: local and international
// phone numbers that libphonenumber accepts for the row's country, mixed-case e-mails,
// names and addresses in Latin, German and Chinese script, ISO dates, national ids with
// their usual separators.

/// SplitMix64: small, fast, good enough to vary test data.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    /// `count` random decimal digits (leading zeros allowed).
    mutating func digits(_ count: Int) -> String {
        var s = ""
        for _ in 0..<count { s.append(Character(Unicode.Scalar(UInt8(48 + below(10))))) }
        return s
    }
}

/// One row of the synthetic export, as the CRM would write it (raw, not normalized).
struct SyntheticCustomer {
    let id: String
    let fullName: String
    let email: String
    let phone: String
    let birthDate: String
    let nationalID: String
    let address: String
    let city: String
    let country: String
    let segment: String
    /// What the phone normalizer gives for `phone` (E.164), known by construction.
    let phoneE164: String

    static let csvHeader = "id,full_name,email,phone,birth_date,national_id,address,city,country,segment"

    /// The encrypted fields, in schema order, with their raw values.
    var encryptedFields: [(name: String, value: String)] {
        [("full_name", fullName), ("email", email), ("phone", phone), ("birth_date", birthDate),
         ("national_id", nationalID), ("address", address)]
    }

    func csvLine() -> String {
        [id, fullName, email, phone, birthDate, nationalID, address, city, country, segment]
            .map(Self.csvField).joined(separator: ",")
    }

    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

enum SyntheticCRM {
    static func subjectID(_ n: Int) -> String {
        let digits = String(n)
        return "cust-" + String(repeating: "0", count: max(0, 7 - digits.count)) + digits
    }

    // MARK: Name pools

    static let usFirst = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
                          "Elizabeth", "Olivia", "Noah", "Emma", "Liam", "Sophia", "Ethan", "Ava", "Mason", "Isabella", "Logan"]
    static let usLast = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
                         "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "O'Connor", "Nguyen", "Kim", "Lee"]
    static let gbFirst = ["Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Emily", "Charlie", "Poppy",
                          "Thomas", "Grace", "Freddie", "Sophie", "Alfie", "Chloe"]
    static let gbLast = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts", "Walker",
                         "Wright", "Hughes", "Patel", "Khan", "Murphy", "O'Brien", "Davies", "Clarke"]
    static let deFirst = ["Lukas", "Anna", "Jürgen", "Sophie", "Maximilian", "Marie", "Felix", "Lena", "Jonas", "Emilia",
                          "Günter", "Charlotte", "Björn", "Käthe", "Paul", "Mia"]
    static let deLast = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
                         "Hoffmann", "Groß", "Köhler", "Schäfer", "Koch", "Richter", "Wolf"]
    /// (Chinese characters, pinyin/Wade-Giles) pairs.
    static let zhFamily: [(String, String)] = [("陳", "chen"), ("林", "lin"), ("黃", "huang"), ("張", "chang"), ("李", "lee"),
                                                ("王", "wang"), ("吳", "wu"), ("劉", "liu"), ("蔡", "tsai"), ("楊", "yang")]
    static let twGiven: [(String, String)] = [("怡君", "yi-chun"), ("志明", "chih-ming"), ("雅婷", "ya-ting"), ("家豪", "chia-hao"),
                                               ("淑芬", "shu-fen"), ("俊傑", "chun-chieh"), ("佩珊", "pei-shan"), ("冠宇", "kuan-yu")]
    static let cnFamily: [(String, String)] = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
                                                ("杨", "yang"), ("赵", "zhao"), ("黄", "huang"), ("周", "zhou"), ("吴", "wu")]
    static let cnGiven: [(String, String)] = [("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("秀英", "xiuying"), ("敏", "min"),
                                               ("静", "jing"), ("磊", "lei"), ("强", "qiang"), ("洋", "yang"), ("婷婷", "tingting")]

    static let segments = ["retail", "retail", "retail", "smb", "enterprise", "vip", "new", "churn-risk"]

    // MARK: The generator

    /// Customer `n` (0-based) of the synthetic export.
    static func customer(_ n: Int) -> SyntheticCustomer {
        var r = SplitMix64(seed: UInt64(n) &* 0x2545_F491_4F6C_DD1D &+ 17)
        let id = subjectID(n)
        let roll = r.below(100)
        let country = roll < 35 ? "US" : roll < 50 ? "GB" : roll < 65 ? "DE" : roll < 80 ? "TW" : "CN"
        let year = 1940 + r.below(67), month = 1 + r.below(12), day = 1 + r.below(28)
        let birth = "\(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
        let segment = r.pick(segments)
        let unique = String(n)  // keeps e-mails unique, so a lookup has one right answer
        var name: String, local: String, domain: String, phone: String, e164: String, nationalID: String, address: String, city: String

        switch country {
        case "US", "GB":
            let first = r.pick(country == "US" ? usFirst : gbFirst), last = r.pick(country == "US" ? usLast : gbLast)
            name = r.chance(10) ? "\(first) \(r.pick(["A.", "J.", "M.", "R."])) \(last)" : "\(first) \(last)"
            let l = last.lowercased().replacingOccurrences(of: "'", with: "")
            local = r.pick(["\(first.lowercased()).\(l)", "\(first.lowercased())_\(l)", "\(first.lowercased().prefix(1))\(l)"]) + unique
            if country == "US" {
                domain = r.pick(["gmail.com", "yahoo.com", "outlook.com", "comcast.net", "icloud.com", "acme-corp.com"])
                let area = r.pick(["212", "415", "312", "617", "202", "305", "206", "512", "646", "718", "213", "404"])
                let exchange = String(2 + r.below(8)) + r.digits(1) + String(1 + r.below(9))
                let line = r.digits(4)
                phone = r.pick(["(\(area)) \(exchange)-\(line)", "\(area).\(exchange).\(line)", "\(area)-\(exchange)-\(line)",
                                "+1 \(area) \(exchange) \(line)", "1-\(area)-\(exchange)-\(line)"])
                e164 = "+1\(area)\(exchange)\(line)"
                nationalID = "\(String(format: "%03d", 1 + r.below(665)))-\(String(format: "%02d", 1 + r.below(99)))-\(String(format: "%04d", 1 + r.below(9999)))"
                let street = r.pick(["Market Street", "Main St", "Oak Avenue", "Maple Drive", "Broadway", "Sunset Blvd", "Elm Street", "Lake Shore Dr"])
                address = "\(1 + r.below(9899)) \(street)" + (r.chance(30) ? ", Apt \(1 + r.below(40))\(r.pick(["A", "B", "C", ""]))" : "")
                city = r.pick(["New York", "San Francisco", "Chicago", "Boston", "Washington", "Miami", "Seattle", "Austin", "Los Angeles", "Atlanta"])
            } else {
                domain = r.pick(["gmail.com", "btinternet.com", "hotmail.co.uk", "outlook.com", "sky.com", "example.org.uk"])
                let mobile = r.pick(["7400", "7412", "7801", "7912", "7956", "7534", "7723"]) + r.digits(6)
                let m = Array(mobile)
                if r.chance(20) {
                    let london = "7" + r.digits(7)
                    phone = r.pick(["020 \(london.prefix(4)) \(london.suffix(4))", "+44 20 \(london.prefix(4)) \(london.suffix(4))"])
                    e164 = "+4420\(london)"
                } else {
                    phone = r.pick(["0\(String(m[0..<4])) \(String(m[4...]))", "+44 \(String(m[0..<4])) \(String(m[4...]))",
                                    "+44 (0)\(String(m[0..<4])) \(String(m[4..<7])) \(String(m[7...]))", "0\(mobile)"])
                    e164 = "+44\(mobile)"
                }
                let prefix = r.pick(["AB", "CE", "JG", "KL", "NP", "SR", "TW", "WL", "YZ", "HM"])
                nationalID = "\(prefix) \(r.digits(2)) \(r.digits(2)) \(r.digits(2)) \(r.pick(["A", "B", "C", "D"]))"
                let street = r.pick(["Baker Street", "High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Queen's Road"])
                address = "\(1 + r.below(240)) \(street), \(r.pick(["NW1", "M1", "B2", "LS1", "EH1", "BS8", "E14"])) \(1 + r.below(9))\(r.pick(["AB", "XE", "QT", "HF", "DN"]))"
                city = r.pick(["London", "Manchester", "Birmingham", "Leeds", "Edinburgh", "Bristol", "Glasgow"])
            }
            if r.chance(8) { local = local.capitalized; domain = domain.uppercased() }
        case "DE":
            let first = r.pick(deFirst), last = r.pick(deLast)
            name = r.chance(10) ? "Dr. \(first) \(last)" : "\(first) \(last)"
            func ascii(_ s: String) -> String {
                s.lowercased().replacingOccurrences(of: "ü", with: "ue").replacingOccurrences(of: "ö", with: "oe")
                    .replacingOccurrences(of: "ä", with: "ae").replacingOccurrences(of: "ß", with: "ss")
            }
            local = r.pick(["\(ascii(first)).\(ascii(last))", "\(ascii(first).prefix(1)).\(ascii(last))", "\(ascii(last))"]) + unique
            domain = r.pick(["gmx.de", "web.de", "t-online.de", "gmail.com", "posteo.de", "firma-gmbh.de"])
            if r.chance(50) {
                let p = r.pick(["151", "152", "160", "162", "170", "171", "172", "173", "174", "175", "176", "177", "178", "179"])
                let rest = r.digits(p == "151" || p == "152" || p == "176" || p == "162" ? 8 : 7)
                phone = r.pick(["0\(p) \(rest)", "+49 \(p) \(rest)", "0\(p)/\(rest)", "+49 (0)\(p) \(rest)", "0\(p)-\(rest)"])
                e164 = "+49\(p)\(rest)"
            } else {
                let area = r.pick(["30", "89", "40", "69", "221"])
                let rest = String(2 + r.below(7)) + r.digits(area == "221" ? 6 : 7)
                phone = r.pick(["0\(area) \(rest)", "+49 \(area) \(rest)", "0\(area)/\(rest)", "(0\(area)) \(rest)"])
                e164 = "+49\(area)\(rest)"
            }
            nationalID = "\(r.digits(2)) \(r.digits(3)) \(r.digits(3)) \(r.digits(3))"
            let street = r.pick(["Hauptstraße", "Schulstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Goethestraße", "Am Markt"])
            address = "\(street) \(1 + r.below(180))\(r.chance(10) ? "a" : ""), \(String(format: "%05d", 10115 + r.below(80000)))"
            city = r.pick(["Berlin", "München", "Hamburg", "Frankfurt am Main", "Köln", "Stuttgart", "Düsseldorf"])
        case "TW":
            let (family, familyLatin) = r.pick(zhFamily), (given, givenLatin) = r.pick(twGiven)
            name = r.chance(60) ? family + given : "\(familyLatin.capitalized) \(givenLatin.capitalized)"
            local = r.pick(["\(givenLatin.replacingOccurrences(of: "-", with: "")).\(familyLatin)", "\(familyLatin)\(givenLatin.replacingOccurrences(of: "-", with: ""))"]) + unique
            domain = r.pick(["gmail.com", "yahoo.com.tw", "hinet.net", "outlook.com", "ms1.hinet.net"])
            if r.chance(75) {
                let m = "9" + r.digits(8), c = Array(m)
                phone = r.pick(["0\(String(c[0..<3]))-\(String(c[3..<6]))-\(String(c[6...]))", "0\(m)",
                                "+886 \(String(c[0..<3])) \(String(c[3..<6])) \(String(c[6...]))", "+886-\(m)", "0\(String(c[0..<3])) \(String(c[3...]))"])
                e164 = "+886\(m)"
            } else {
                let rest = "2" + r.digits(7)
                phone = r.pick(["(02) \(rest.prefix(4))-\(rest.suffix(4))", "02-\(rest)", "+886 2 \(rest.prefix(4)) \(rest.suffix(4))"])
                e164 = "+8862\(rest)"
            }
            let letter = r.pick(["A", "B", "C", "D", "E", "F", "H", "K", "R", "S"])
            nationalID = letter + r.pick(["1", "2"]) + r.digits(8)
            if r.chance(60) {
                address = "\(r.pick(["台北市信義區松仁路", "台北市大安區敦化南路", "新北市板橋區文化路", "台中市西屯區台灣大道", "高雄市前鎮區中山二路"]))\(1 + r.below(300))號\(1 + r.below(20))樓"
            } else {
                address = "No. \(1 + r.below(300)), \(r.pick(["Songren Rd.", "Dunhua S. Rd.", "Wenhua Rd.", "Taiwan Blvd."])), \(r.pick(["Xinyi Dist.", "Da'an Dist.", "Banqiao Dist.", "Xitun Dist."]))"
            }
            city = r.pick(["Taipei", "New Taipei", "Taichung", "Kaohsiung", "Tainan"])
        default:  // CN
            let (family, familyLatin) = r.pick(cnFamily), (given, givenLatin) = r.pick(cnGiven)
            name = r.chance(80) ? family + given : "\(givenLatin.capitalized) \(familyLatin.capitalized)"
            domain = r.pick(["163.com", "qq.com", "126.com", "sina.com", "foxmail.com"])
            local = domain == "qq.com" ? String(10_000 + r.below(89_999)) + unique : "\(familyLatin)\(givenLatin)" + unique
            let m = r.pick(["138", "139", "135", "150", "186", "188", "199", "131", "177", "158"]) + r.digits(8), c = Array(m)
            if r.chance(85) {
                phone = r.pick([m, "\(String(c[0..<3])) \(String(c[3..<7])) \(String(c[7...]))", "+86 \(m)",
                                "+86 \(String(c[0..<3])) \(String(c[3..<7])) \(String(c[7...]))", "\(String(c[0..<3]))-\(String(c[3..<7]))-\(String(c[7...]))"])
                e164 = "+86\(m)"
            } else {
                let (area, number) = (r.pick(["10", "21"]), String(5 + r.below(3)) + r.digits(7))
                phone = r.pick(["0\(area)-\(number)", "+86 \(area) \(number)", "0\(area) \(number)"])
                e164 = "+86\(area)\(number)"
            }
            // 18-digit resident id: region, birth date, sequence, ISO 7064 MOD 11-2 check.
            let body = r.pick(["110105", "310104", "440305", "330106", "510107"]) + birth.replacingOccurrences(of: "-", with: "") + r.digits(3)
            let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
            let sum = zip(body.utf8, weights).reduce(0) { $0 + Int($1.0 - 48) * $1.1 }
            nationalID = body + String(Array("10X98765432")[sum % 11])
            address = "\(r.pick(["北京市朝阳区建国路", "上海市徐汇区漕溪北路", "深圳市南山区科技园南路", "杭州市西湖区文三路", "成都市武侯区人民南路"]))\(1 + r.below(300))号\(r.chance(50) ? "\(1 + r.below(30))栋\(100 + r.below(2900))室" : "")"
            city = r.pick(["Beijing", "Shanghai", "Shenzhen", "Hangzhou", "Chengdu"])
        }
        return SyntheticCustomer(id: id, fullName: name, email: local + "@" + domain, phone: phone, birthDate: birth,
                                 nationalID: nationalID, address: address, city: city, country: country, segment: segment,
                                 phoneE164: e164)
    }

    /// Writes customers first..<first+count as a CSV export; returns the file size in bytes. Rows are
    /// made on every core, in blocks written in order (the file is the same either way).
    @discardableResult
    static func writeCSV(to path: String, count: Int, first firstCustomer: Int = 0) throws -> Int64 {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw UsageError("cannot create \(path)")
        }
        defer { try? handle.close() }
        try handle.write(contentsOf: Data((SyntheticCustomer.csvHeader + "\n").utf8))
        let block = 10_000
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        var lastReport = clock.now
        var start = 0
        while start < count {
            let chunks = Mutex([Data](repeating: Data(), count: workers))
            let first = start
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = first + w * block, hi = min(count, lo + block)
                guard lo < hi else { return }
                var text = ""
                text.reserveCapacity(block * 160)
                for n in lo..<hi {
                    text += customer(firstCustomer + n).csvLine()
                    text += "\n"
                }
                let data = Data(text.utf8)
                chunks.withLock { $0[w] = data }
            }
            for data in chunks.withLock({ $0 }) where !data.isEmpty { try handle.write(contentsOf: data) }
            start += workers * block
            if (clock.now - lastReport).seconds > 5 {
                progress("  writing CSV: \(grouped(Double(min(start, count)))) / \(grouped(Double(count))) customers")
                lastReport = clock.now
            }
        }
        return fileSize(path)
    }
}

/// A customer as the vault stores it: the normalized value of every field (what is
/// sealed), the index keys of the indexed fields, and the plain fields. Made with the
/// library's public `Normalizer` (outside any timing), so the baseline encrypts and indexes
/// exactly the bytes the import does.
struct NormalizedCustomer {
    let id: String
    /// (field name, stored value), the six encrypted fields in schema order.
    let sealed: [(name: String, value: String)]
    /// (field name, index key) for email, phone, national_id.
    let indexKeys: [(name: String, key: String)]
    /// city, country, segment.
    let plain: [String: String]

    static let indexedFields: Set<String> = ["email", "phone", "national_id"]

    /// The normalized values, known by construction (no Normalizer call: the baseline
    /// needs them for a million customers). `records-gen --check`, and `records-all` on a
    /// sample, check that they equal what the library's Normalizer gives.
    init(synthetic c: SyntheticCustomer) {
        id = c.id
        let email = c.email.lowercased()
        let nationalID = String(c.nationalID.filter { !" -./".contains($0) }.uppercased())
        sealed = [("full_name", c.fullName), ("email", email), ("phone", c.phoneE164), ("birth_date", c.birthDate),
                  ("national_id", nationalID), ("address", c.address)]
        indexKeys = [("email", email), ("phone", c.phoneE164), ("national_id", nationalID)]
        plain = ["city": c.city, "country": c.country, "segment": c.segment]
    }

    /// Customers in `range` whose values by construction differ from the Normalizer's
    /// (or do not normalize): descriptions without values, at most `limit`.
    static func mismatches(_ range: Range<Int>, schema: Schema, limit: Int = 5) -> (count: Int, examples: [String]) {
        var count = 0
        var examples: [String] = []
        for n in range {
            let c = SyntheticCRM.customer(n)
            let built = NormalizedCustomer(synthetic: c)
            guard let real = try? NormalizedCustomer(c, schema: schema) else {
                count += 1
                if examples.count < limit { examples.append("\(c.id) (\(c.country)): a value does not normalize") }
                continue
            }
            let differing = zip(built.sealed, real.sealed).filter { $0.0.value != $0.1.value }.map(\.0.name)
                + zip(built.indexKeys, real.indexKeys).filter { $0.0.key != $0.1.key }.map { "key of " + $0.0.name }
            if !differing.isEmpty {
                count += 1
                if examples.count < limit { examples.append("\(c.id) (\(c.country)): \(differing.joined(separator: ", ")) differ; phone '\(c.phone)'") }
            }
        }
        return (count, examples)
    }

    init(_ c: SyntheticCustomer, schema: Schema) throws {
        id = c.id
        var sealed: [(String, String)] = []
        var keys: [(String, String)] = []
        for (name, raw) in c.encryptedFields {
            guard let spec = schema[name] else { throw UsageError("schema has no field \(name)") }
            let normalized: NormalizedValue
            switch Normalizer.normalize(raw, as: spec.kind, region: c.country, defaultRegion: schema.defaultRegion) {
            case .success(let value): normalized = value
            case .failure(let error): throw UsageError("synthetic customer \(c.id): field \(name) does not normalize: \(error.reason)")
            }
            sealed.append((name, normalized.stored))
            if Self.indexedFields.contains(name) { keys.append((name, normalized.key)) }
        }
        self.sealed = sealed
        indexKeys = keys
        plain = ["city": c.city, "country": c.country, "segment": c.segment]
    }
}

import Foundation

/// A ``ComplianceReport`` as one self-contained HTML page: inline CSS and an inline SVG
/// chart, no script and nothing fetched (a Content-Security-Policy says so to the browser),
/// so it opens the same from a mail attachment, an archive or an air-gapped host.
///
/// Every figure carries `data-figure="KEY"` with the figure as its text, so a test or a
/// script can read the page back without depending on its layout.
public enum ComplianceReportHTML {
    public static func render(_ report: ComplianceReport) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Compliance report \(e(report.clock))</title>
            <style>\(css)</style></head><body>
            <h1>Compliance report</h1>
            <p class="meta">Vault <code data-figure="vault-id">\(e(report.vaultID))</code> at <time data-figure="clock">\(e(report.clock))</time>;
            retention look-ahead <span data-figure="horizon-days">\(report.horizonDays)</span> days.
            Aggregate figures only: no personal data is shown.</p>

            """
        html += section("Records", id: "records") {
            var s = "<p><span class=\"big\" data-figure=\"subjects\">\(report.subjects)</span> subjects stored, "
            s += "<span data-figure=\"erased\">\(report.erased)</span> erased (tombstones), "
            s += "<span data-figure=\"restricted\">\(report.restricted)</span> restricted.</p>\n"
            s += table(["Retention category", "Subjects"], report.recordsByCategory.map {
                [e($0.category), figure("category:\($0.category)", $0.subjects)]
            })
            s += table(["Data category", "Fields", "Subjects holding one"], report.dataCategories.map {
                [e($0.category), e($0.fields.joined(separator: ", ")), figure("data-category:\($0.category)", $0.subjects)]
            })
            return s
        }
        html += section("Consent per purpose", id: "consent") {
            consentChart(report) + table(["Purpose", "Model", "State", "Subjects"], report.consent.flatMap { c in
                c.states.keys.sorted().map { state in [e(c.purpose), e(c.model), e(state), figure("consent:\(c.purpose):\(state)", c.states[state]!)] }
            })
        }
        html += section("Retention: due now and in the next \(report.horizonDays) days", id: "retention") {
            report.retention.isEmpty ? "<p>retention.yaml has no rules: nothing is ever due.</p>\n"
                : table(["What happens", "Category", "Rule", "Due now", "Held", "Due in \(report.horizonDays) days"], report.retention.map { r in
                    [e(ReportWords.rule(action: r.action.rawValue, period: r.period, from: r.from)), e(r.category),
                     "<code>\(e(r.rule))</code>",
                     figure("retention:\(r.rule):due-now", r.dueNow), figure("retention:\(r.rule):held", r.heldNow),
                     figure("retention:\(r.rule):due-soon", r.dueSoon)]
                })
        }
        html += section("Open data-subject requests", id: "requests") {
            "<p><span class=\"big\" data-figure=\"open-requests\">\(report.openRequests.count)</span> open, "
                + "<span data-figure=\"overdue-requests\">\(report.openRequests.filter(\.overdue).count)</span> overdue.</p>\n"
                + table(["Request", "Type", "Regime", "Status", "Received", "Deadline"], report.openRequests.map { r in
                    [figure("request:\(r.id)", r.id), e(r.type), e(r.regime), e(r.status), e(r.receivedAt),
                     "<span data-figure=\"request:\(e(r.id)):deadline\"\(r.overdue ? " class=\"bad\"" : "")>\(e(r.deadline))</span>\(r.overdue ? " <strong class=\"bad\">overdue</strong>" : "")"]
                })
        }
        html += section("Open breaches", id: "breaches") {
            "<p><span class=\"big\" data-figure=\"open-breaches\">\(report.openBreaches.count)</span> open, "
                + "<span data-figure=\"overdue-breaches\">\(report.openBreaches.filter(\.overdue).count)</span> past the 72-hour notification deadline.</p>\n"
                + table(["Breach", "Detected", "Notify the authority by"], report.openBreaches.map { b in
                    [figure("breach:\(b.id)", b.id), e(b.detectedAt),
                     "<span data-figure=\"breach:\(e(b.id)):deadline\"\(b.overdue ? " class=\"bad\"" : "")>\(e(b.deadline))</span>\(b.overdue ? " <strong class=\"bad\">overdue</strong>" : "")"]
                })
        }
        html += section("Audit log", id: "audit") {
            let a = report.audit
            var s = "<p>Chain <strong data-figure=\"audit:status\" class=\"\(a.ok ? "good" : "bad")\">\(a.ok ? "verified" : "BROKEN")</strong>"
            if let problem = a.problem { s += ": <span data-figure=\"audit:problem\">\(e(problem))</span>" }
            s += ".</p>\n" + table(["Figure", "Value"], [
                ["Events", figure("audit:events", a.events)],
                ["Chain head", figure("audit:head", a.headHash)],
                ["Checkpoints verified", figure("audit:checkpoints", a.checkpointsVerified)],
                ["Last checkpoint", a.lastCheckpointSeq.map { "seq " + figure("audit:last-checkpoint-seq", $0) + " at " + figure("audit:last-checkpoint-time", a.lastCheckpointTime ?? "") } ?? "none"],
                ["Events after the last verified checkpoint", figure("audit:unsigned-tail", a.unsignedTail)],
            ])
            return s + "<p class=\"meta\">Checked with the keyring's audit public key; for an independent check run <code>privacyctl audit verify --public-key=KEY --against WITNESS</code>.</p>\n"
        }
        html += section("Backups", id: "backups") {
            var s = "<p><span class=\"big\" data-figure=\"backups\">\(report.backups)</span> backups of this vault in the vault's Backups directory.</p>\n"
            if let b = report.lastBackup {
                s += table(["Last backup", "Created", "Subjects"], [[figure("backup:last-id", b.id), figure("backup:last-created", b.createdAt), figure("backup:last-subjects", b.subjects)]])
            } else {
                s += "<p class=\"bad\" data-figure=\"backup:none\">No backup found.</p>\n"
            }
            return s
        }
        html += section("Record of processing activities (GDPR art. 30)", id: "art30") {
            table(["Purpose", "Description", "Lawful basis (art. 6(1))", "Consent", "Data categories", "Roles"], report.processingActivities.map { p in
                ["<span data-figure=\"art30:\(e(p.purpose))\">\(e(p.purpose))</span>", e(p.description), figure("art30:\(p.purpose):lawful-basis", p.lawfulBasis),
                 e(p.consent), figure("art30:\(p.purpose):categories", p.dataCategories.joined(separator: ", ")), e(p.roles.joined(separator: ", "))]
            }) + "<h3>Time limits for erasure (art. 30(1)(f))</h3>\n"
                + table(["Time limit", "Category", "Legal reason", "Rule"], report.erasureLimits.map { l in
                    [e(ReportWords.rule(action: l.action, period: l.period, from: l.from)), e(l.category), e(l.legalReason), "<code>\(e(l.rule))</code>"]
                })
        }
        return html + "</body></html>\n"
    }

    /// The colour of each consent state in the chart: allowed states green and blue,
    /// refusals red and orange, the rest grey.
    static let stateColours: [String: String] = [
        "granted": "#2e7d32", "not-objected": "#0277bd", "not-required": "#4fc3f7", "never-asked": "#bdbdbd",
        "withdrawn": "#ef6c00", "objected": "#c62828", "expired": "#8d6e63", "notice-changed": "#f9a825", "restricted": "#6a1b9a",
    ]

    /// A horizontal stacked bar per purpose: the share of subjects in each state, each
    /// segment labelled with its count where it is wide enough, each bar with its total,
    /// under a caption and over a legend.
    static func consentChart(_ report: ComplianceReport) -> String {
        let labelWidth = 170.0, barWidth = 460.0, rowHeight = 28.0, totalWidth = 110.0
        let height = Double(report.consent.count) * rowHeight + 36
        var svg = "<figure><figcaption>Subjects in each consent state, per purpose (each bar is all subjects; numbers are subjects)</figcaption>\n"
            + "<svg id=\"consent-chart\" role=\"img\" aria-label=\"Consent states per purpose\" width=\"\(Int(labelWidth + barWidth + totalWidth))\" height=\"\(Int(height))\">\n"
        for (row, c) in report.consent.enumerated() {
            let y = Double(row) * rowHeight
            let total = max(c.states.values.reduce(0, +), 1)
            svg += "<g class=\"bar-group\" data-purpose=\"\(e(c.purpose))\"><text x=\"0\" y=\"\(y + 17)\">\(e(c.purpose))</text>"
            var x = labelWidth
            for state in c.states.keys.sorted() where c.states[state]! > 0 {
                let count = c.states[state]!
                let width = barWidth * Double(count) / Double(total)
                svg += "<rect data-state=\"\(e(state))\" data-count=\"\(count)\" x=\"\(fmt(x))\" y=\"\(y + 4)\" width=\"\(fmt(width))\" height=\"\(rowHeight - 8)\" fill=\"\(stateColours[state] ?? "#9e9e9e")\"><title>\(e(c.purpose)): \(e(state)) \(count)</title></rect>"
                if width >= Double(String(count).count) * 7 + 8 {
                    svg += "<text class=\"segment-label\" x=\"\(fmt(x + width / 2))\" y=\"\(y + 18)\" text-anchor=\"middle\">\(count)</text>"
                }
                x += width
            }
            svg += "<text class=\"bar-total\" x=\"\(fmt(labelWidth + barWidth + 8))\" y=\"\(y + 17)\">\(c.states.values.reduce(0, +)) subjects</text>"
            svg += "</g>\n"
        }
        var x = 0.0
        let legendY = Double(report.consent.count) * rowHeight + 14
        for state in Set(report.consent.flatMap { $0.states.filter { $0.value > 0 }.keys }).sorted() {
            svg += "<rect x=\"\(fmt(x))\" y=\"\(legendY)\" width=\"12\" height=\"12\" fill=\"\(stateColours[state] ?? "#9e9e9e")\"/><text x=\"\(fmt(x + 16))\" y=\"\(legendY + 11)\">\(e(state))</text>"
            x += 24 + Double(state.count) * 7
        }
        return svg + "</svg></figure>\n"
    }

    static func section(_ title: String, id: String, _ body: () -> String) -> String {
        "<section id=\"\(id)\"><h2>\(e(title))</h2>\n\(body())</section>\n"
    }

    /// Cells are HTML already (escape text with ``e(_:)``).
    static func table(_ headers: [String], _ rows: [[String]]) -> String {
        guard !rows.isEmpty else { return "<p class=\"meta\">None.</p>\n" }
        return "<table><thead><tr>" + headers.map { "<th>\(e($0))</th>" }.joined() + "</tr></thead><tbody>\n"
            + rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>\n" }.joined() + "</tbody></table>\n"
    }

    static func figure(_ key: String, _ value: some CustomStringConvertible) -> String {
        "<span data-figure=\"\(e(key))\">\(e(value.description))</span>"
    }

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Text and attribute values escaped: policy text, ids and descriptions are operator
    /// input and must never become markup.
    static func e(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static let css = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#212121;max-width:1100px;margin:2em auto;padding:0 1em}
        h1{margin-bottom:.2em}h2{border-bottom:2px solid #e0e0e0;padding-bottom:.2em;margin-top:1.6em}
        table{border-collapse:collapse;margin:.6em 0 1em}th,td{border:1px solid #e0e0e0;padding:.3em .6em;text-align:left;vertical-align:top}
        th{background:#f5f5f5}td span[data-figure]{font-variant-numeric:tabular-nums}
        .big{font-size:1.6em;font-weight:600}.meta{color:#616161}.bad{color:#c62828}.good{color:#2e7d32}
        svg text{font:12px system-ui,sans-serif;fill:#424242}svg text.segment-label{fill:#fff;font-weight:600}code{background:#f5f5f5;padding:0 .2em}
        figure{margin:.6em 0}figcaption{color:#616161;margin-bottom:.3em}
        @media print{body{margin:0}section{break-inside:avoid}}
        """
}

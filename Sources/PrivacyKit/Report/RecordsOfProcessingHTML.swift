/// The record of processing as one self-contained HTML page, in the compliance report's
/// style and with its helpers (``ComplianceReportHTML``): inline CSS, no script, nothing
/// fetched, every policy text escaped. Key values carry `data-figure="KEY"` so a test or a
/// script can read the page back without depending on its layout.
enum RecordsOfProcessingHTML {
    typealias T = RecordsOfProcessingText

    static func render(_ record: RecordsOfProcessing) -> String {
        let c = record.controller
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(T.title)) \(e(record.generatedAt))</title>
            <style>\(ComplianceReportHTML.css)</style></head><body>
            <h1>\(e(T.title))</h1>
            <p class="meta">\(e(T.subtitle)). \(e(T.vault)) <code data-figure="vault-id">\(e(record.vaultID))</code>;
            \(e(T.generatedAt)) <time data-figure="generated-at">\(e(record.generatedAt))</time>.</p>

            """
        html += section(T.controller, id: "controller") {
            var rows = [[e(T.controller), figure("controller:name", c.name), e(c.address), e(c.contact)]]
            if let r = c.representative { rows.append([e(T.representative), figure("controller:representative", r.name), e(r.address), e(r.contact)]) }
            if let d = c.dpo { rows.append([e(T.dpo), e(d.name ?? ""), "", figure("controller:dpo", d.contact)]) }
            return table(["", T.name, T.address, T.contact], rows)
        }
        for a in record.activities {
            html += section("\(T.activity): \(a.name)", id: "activity-\(a.id)") { activity(a) }
        }
        return html + "</body></html>\n"
    }

    static func activity(_ a: RecordsOfProcessing.Activity) -> String {
        let key = "activity:\(a.id)"
        var s = "<p><code data-figure=\"\(e(key))\">\(e(a.id))</code> \(e(a.description))</p>\n"
        s += heading(T.purposes) + table([T.purpose, T.description, T.lawfulBasis, T.consent], a.purposes.map { p in
            [figure("\(key):purpose:\(p.id)", p.id), e(p.description), figure("\(key):purpose:\(p.id):lawful-basis", p.lawfulBasis), e(p.consent)]
        })
        s += heading(T.dataSubjects) + paragraph(a.dataSubjects.joined(separator: ", "), figure: "\(key):data-subjects")
        s += heading(T.dataCategories) + table([T.category, T.fields], a.dataCategories.map { d in
            [figure("\(key):category:\(d.category)", d.category), figure("\(key):category:\(d.category):fields", d.fields.joined(separator: ", "))]
        })
        s += heading(T.recipients) + table([T.name, T.kind, T.country], a.recipients.map { r in
            [e(r.name), e(T.recipientKind(r.kind)), e(r.country)]
        })
        s += heading(T.transfers) + table([T.country, T.recipient, T.safeguard, T.reference], a.transfers.enumerated().map { index, t in
            [figure("\(key):transfer:\(index):country", t.country), e(t.recipient),
             "<code data-figure=\"\(e("\(key):transfer:\(index):safeguard"))\">\(e(t.safeguard.rawValue))</code> \(e(T.safeguard(t.safeguard)))",
             e(t.reference ?? "")]
        })
        s += heading(T.retention) + table([T.timeLimit, T.category, T.legalReason, T.rule], a.retention.map { l in
            [e(ReportWords.rule(action: l.action, period: l.period, from: l.from)) + " (" + figure("\(key):retention:\(l.rule):period", l.period) + ")",
             e(l.category), e(l.legalReason), "<code>\(e(l.rule))</code>"]
        })
        s += heading(T.securityMeasures) + list(a.securityMeasures.map(e))
        s += heading(T.sources) + list(a.sources.map { "\(e(T.source($0.kind))): \(e($0.label))" })
        let decisions = a.automatedDecisions
        s += heading(T.automatedDecisions)
            + "<p><strong data-figure=\"\(e(key)):automated-decisions\">\(e(decisions.used ? T.yes : T.no))</strong>"
            + (decisions.description.map { " — \(e($0))" } ?? "") + "</p>\n"
        return s
    }

    static func heading(_ text: String) -> String { "<h3>\(e(text))</h3>\n" }

    static func paragraph(_ text: String, figure key: String) -> String {
        text.isEmpty ? "<p class=\"meta\">\(e(T.none)).</p>\n" : "<p>\(figure(key, text))</p>\n"
    }

    /// Items are HTML already.
    static func list(_ items: [String]) -> String {
        items.isEmpty ? "<p class=\"meta\">\(e(T.none)).</p>\n" : "<ul>" + items.map { "<li>\($0)</li>" }.joined() + "</ul>\n"
    }

    static func section(_ title: String, id: String, _ body: () -> String) -> String {
        ComplianceReportHTML.section(title, id: e(id), body)
    }

    static func table(_ headers: [String], _ rows: [[String]]) -> String { ComplianceReportHTML.table(headers, rows) }

    static func figure(_ key: String, _ value: String) -> String { ComplianceReportHTML.figure(key, value) }

    static func e(_ text: String) -> String { ComplianceReportHTML.e(text) }
}

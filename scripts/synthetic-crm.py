#!/usr/bin/env python3
"""Writes a synthetic CRM export (CSV) for the demo and for trying PrivacyKit by hand.

Every person in it is invented: e-mail addresses are under the reserved example.com,
example.org and example.net domains (RFC 2606), and phone numbers come from ranges kept
for fiction where a country has them (US 555-01xx, UK Ofcom drama ranges, French ARCEP
fiction ranges, Australian ACMA ranges). Countries are chosen so that the names come in
Latin, Cyrillic, Greek, CJK and Arabic script.

Like a real export it is not clean: some people appear twice under another customer id
(their e-mail in other case and with stray spaces, their phone written internationally),
and some rows are broken (no @ in the e-mail, a phone number too short for its country, an
impossible birth date, an unknown country, a truncated row). With --expect it also writes
what an importer should make of it, so the demo can check the product against the file.

The same --seed and --today always give the same file. Dates are relative to --today
(default: the current UTC date) so that retention rules see the same ages whenever it runs.
"""
import argparse
import csv
import datetime
import json
import random
import sys

# Per country: how often it occurs (roughly a European shop with Asian and Middle Eastern
# customers), whether the family name comes first (written without a space), and given
# and family names as (in the country's script, in Latin letters for the e-mail address).
COUNTRIES = {
    "GB": dict(weight=16, family_first=False, names=(
        [("Oliver", "Oliver"), ("Amelia", "Amelia"), ("Harry", "Harry"), ("Isla", "Isla"), ("Siobhán", "Siobhan")],
        [("Smith", "Smith"), ("O'Brien", "OBrien"), ("Jones", "Jones"), ("Taylor", "Taylor"), ("Davies", "Davies")])),
    "US": dict(weight=14, family_first=False, names=(
        [("James", "James"), ("Mary", "Mary"), ("José", "Jose"), ("Aaliyah", "Aaliyah"), ("Wei", "Wei")],
        [("Johnson", "Johnson"), ("García", "Garcia"), ("Nguyen", "Nguyen"), ("Brown", "Brown"), ("Miller", "Miller")])),
    "DE": dict(weight=12, family_first=False, names=(
        [("Jürgen", "Juergen"), ("Anna", "Anna"), ("Lukas", "Lukas"), ("Grete", "Grete"), ("Özlem", "Oezlem")],
        [("Müller", "Mueller"), ("Schmidt", "Schmidt"), ("Weiß", "Weiss"), ("Yılmaz", "Yilmaz"), ("Becker", "Becker")])),
    "FR": dict(weight=10, family_first=False, names=(
        [("Chloé", "Chloe"), ("Étienne", "Etienne"), ("Léa", "Lea"), ("François", "Francois"), ("Inès", "Ines")],
        [("Lefèvre", "Lefevre"), ("Dubois", "Dubois"), ("Moreau", "Moreau"), ("Garçon", "Garcon"), ("Benali", "Benali")])),
    "AU": dict(weight=6, family_first=False, names=(
        [("Jack", "Jack"), ("Charlotte", "Charlotte"), ("Noah", "Noah"), ("Mia", "Mia")],
        [("Wilson", "Wilson"), ("Thompson", "Thompson"), ("Walker", "Walker"), ("White", "White")])),
    "JP": dict(weight=9, family_first=True, names=(
        [("太郎", "Taro"), ("花子", "Hanako"), ("翔太", "Shota"), ("さくら", "Sakura"), ("健", "Ken")],
        [("佐藤", "Sato"), ("鈴木", "Suzuki"), ("高橋", "Takahashi"), ("田中", "Tanaka"), ("渡辺", "Watanabe")])),
    "CN": dict(weight=9, family_first=True, names=(
        [("伟", "Wei"), ("芳", "Fang"), ("娜", "Na"), ("强", "Qiang"), ("静", "Jing")],
        [("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen")])),
    "RU": dict(weight=9, family_first=False, names=(
        [("Иван", "Ivan"), ("Анна", "Anna"), ("Дмитрий", "Dmitry"), ("Ольга", "Olga"), ("Сергей", "Sergey")],
        [("Петров", "Petrov"), ("Смирнова", "Smirnova"), ("Кузнецов", "Kuznetsov"), ("Попова", "Popova"), ("Волков", "Volkov")])),
    "GR": dict(weight=7, family_first=False, names=(
        [("Γιώργος", "Giorgos"), ("Μαρία", "Maria"), ("Νίκος", "Nikos"), ("Ελένη", "Eleni"), ("Δημήτρης", "Dimitris")],
        [("Παπαδόπουλος", "Papadopoulos"), ("Νικολάου", "Nikolaou"), ("Γεωργίου", "Georgiou"), ("Οικονόμου", "Oikonomou"), ("Αντωνίου", "Antoniou")])),
    "EG": dict(weight=8, family_first=False, names=(
        [("محمد", "Mohamed"), ("فاطمة", "Fatma"), ("أحمد", "Ahmed"), ("مريم", "Mariam"), ("يوسف", "Youssef")],
        [("علي", "Ali"), ("حسن", "Hassan"), ("إبراهيم", "Ibrahim"), ("السيد", "ElSayed"), ("مصطفى", "Mostafa")])),
}

US_AREAS = ["201", "212", "312", "415", "503", "617", "702", "808", "917", "972"]


def phone(country, k):
    """The k-th phone number of a country, in its national format (unique per k)."""
    if country == "US":   # 555-0100..0199 is reserved for fiction in every area code
        return f"({US_AREAS[k // 100 % len(US_AREAS)]}) 555-{100 + k % 100:04d}"
    if country == "GB":   # Ofcom drama ranges: London, Leeds, Manchester, mobile
        prefix = ["020 7946 ", "0113 496 ", "0161 496 ", "07700 900"][k // 1000 % 4]
        return f"{prefix}{k % 1000:03d}" if prefix.startswith("07700") else f"{prefix}{k % 1000:04d}"
    if country == "FR":   # ARCEP fiction ranges
        prefix = ["01 99 00", "02 61 91", "03 53 01", "04 65 71"][k // 10000 % 4]
        return f"{prefix} {k % 10000 // 100:02d} {k % 100:02d}"
    if country == "AU":   # ACMA fiction ranges (Sydney, Melbourne)
        return f"{['02 5550', '03 7010'][k // 10000 % 2]} {k % 10000:04d}"
    if country == "DE":
        return f"030 {20000000 + k}"
    if country == "JP":
        return f"03-{5000 + k // 10000:04d}-{k % 10000:04d}"
    if country == "CN":
        return f"138 {1000 + k // 10000:04d} {k % 10000:04d}"
    if country == "RU":
        return f"8 (495) {200 + k // 10000:03d}-{k % 10000 // 100:02d}-{k % 100:02d}"
    if country == "GR":
        return f"210 {3000000 + k:07d}"
    if country == "EG":
        return f"02 {22000000 + k:08d}"
    raise ValueError(country)


def international(country, national):
    """The same number as a person might type it on another form: +CC and no trunk 0."""
    code = {"US": "1", "GB": "44", "FR": "33", "AU": "61", "DE": "49", "JP": "81", "CN": "86",
            "RU": "7", "GR": "30", "EG": "20"}[country]
    digits = "".join(c for c in national if c.isdigit())
    if country == "RU":
        digits = digits[1:]                       # trunk prefix 8
    elif digits.startswith("0"):                  # national trunk prefix
        digits = digits[1:]
    return f"+{code} {digits}"


def pick_examples(path, broken, today):
    """Customers the demo points at, each chosen for what it shows (the first that fits)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["customer_id"] not in broken]
    by_email = {}
    for r in rows:
        by_email.setdefault(r["E-Mail"].strip().lower(), []).append(r["customer_id"])
    # Customers entered twice stay out of the other examples, so each example is one record.
    taken = {i for ids in by_email.values() if len(ids) > 1 for i in ids}
    idle = (today - datetime.timedelta(days=760)).isoformat()     # over two years ago

    def first(what, test):
        for r in rows:
            if r["customer_id"] not in taken and test(r):
                taken.add(r["customer_id"])
                return r["customer_id"]
        sys.exit(f"synthetic-crm: no customer fits the demo's {what}; try more --rows")

    open_account = lambda r: r["Segment"] in ("customer", "vip")
    return {
        "duplicate": next(ids[:2] for ids in by_email.values() if len(ids) > 1),
        "lookup": first("lookup", lambda r: open_account(r) and r["marketing_consent"] == "yes"
                        and r["Country"] in ("RU", "GR", "EG", "JP", "CN")),
        "grant": first("grant", lambda r: open_account(r) and r["marketing_consent"] == ""),
        "held": first("idle lead", lambda r: r["Segment"] == "lead" and r["last_interaction"] < idle),
        "idle": first("idle lead", lambda r: r["Segment"] == "lead" and r["last_interaction"] < idle),
        "closed": first("closed account", lambda r: r["Segment"] == "closed"),
        "erase": first("erasure", lambda r: open_account(r) and r["Country"] in ("EG", "GR", "RU")),
        "export": first("export", lambda r: open_account(r) and r["Country"] in ("JP", "CN", "GR")),
        "after_backup": first("erasure after the backup", open_account),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=3000, help="data rows to write (default 3000)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--today", help="the date the ages count from, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--out", required=True, help="the CSV file to write")
    parser.add_argument("--expect", help="also write what an import should make of it (JSON)")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    today = (datetime.date.fromisoformat(args.today) if args.today
             else datetime.datetime.now(datetime.timezone.utc).date())
    day = lambda days_ago: (today - datetime.timedelta(days=days_ago)).isoformat()
    countries = list(COUNTRIES)
    weights = [COUNTRIES[c]["weight"] for c in countries]
    per_country = {c: 0 for c in countries}

    header = ["customer_id", "Full Name", "E-Mail", "Phone", "Country", "Birth Date", "Customer Since",
              "Segment", "last_interaction", "closed_at", "marketing_consent", "Notes"]
    people = []            # good rows a duplicate may copy
    broken = set()         # customer ids of broken rows
    expect = {"rows": args.rows, "rejected": {}, "duplicates": 0, "consent_yes": 0, "consent_no": 0, "consent_none": 0,
              "countries": {}, "segments": {}}
    broken_kinds = ["email", "phone", "birth_date", "country", "columns"]
    reasons = {"email": "e-mail with ' at ' for '@'", "phone": "phone too short", "birth_date": "31 February",
               "country": "country XX", "columns": "row cut short"}
    notes = ["", "", "", "prefers e-mail", "VIP event 2025", "asked about delivery times, \"urgent\"",
             "called twice,\nsecond call about an invoice", "newsletter sign-up at trade fair"]

    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(header)
        for i in range(args.rows):
            cid = f"C{i + 1:05d}"
            # About 3% are a second record of an earlier person, 1.5% are broken.
            if people and rng.random() < 0.03:
                original = rng.choice(people)
                people.remove(original)           # one duplicate per person keeps clusters at two
                row = list(original)
                row[0] = cid
                local, domain = row[2].split("@")
                row[2] = f"  {local.title()}@{domain.upper()} "
                row[3] = international(row[4], row[3])
                row[11] = "imported again from the web shop"
                expect["duplicates"] += 1
            else:
                country = rng.choices(countries, weights)[0]
                spec = COUNTRIES[country]
                given, family = rng.choice(spec["names"][0]), rng.choice(spec["names"][1])
                name = f"{family[0]}{given[0]}" if spec["family_first"] else f"{given[0]} {family[0]}"
                email = f"{given[1]}.{family[1]}.{i + 1}@{rng.choice(['example.com', 'example.org', 'example.net'])}".lower()
                k = per_country[country]
                per_country[country] += 1
                # For retention: idle leads (erased after 2 years without contact), recent
                # leads, accounts closed 4 years ago (contact fields due), open accounts.
                segment, last, closed = rng.choice([
                    ("lead", day(800 + i % 300), ""), ("lead", day(10 + i % 200), ""),
                    ("closed", day(1500 + i % 100), day(1500 + i % 100)),
                    ("customer", day(5 + i % 60), ""), ("vip", day(1 + i % 30), "")])
                consent = rng.choice(["yes", "yes", "no", ""])
                row = [cid, name, email, phone(country, k), country,
                       f"{rng.randint(1940, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                       day(1700 + i % 2000), segment, last, closed, consent, rng.choice(notes)]
                if rng.random() < 0.015:
                    kind = rng.choice(broken_kinds)
                    if kind == "email":
                        row[2] = row[2].replace("@", " at ")
                    elif kind == "phone":
                        row[3] = "12345"
                    elif kind == "birth_date":
                        row[5] = f"{rng.randint(1940, 2004)}-02-31"
                    elif kind == "country":
                        row[4] = "XX"
                    else:
                        row = row[:4]
                    expect["rejected"][kind] = expect["rejected"].get(kind, 0) + 1
                    broken.add(cid)
                else:
                    people.append(row)
            w.writerow(row)
            if row[0] not in broken:
                expect["countries"][row[4]] = expect["countries"].get(row[4], 0) + 1
                expect["segments"][row[7]] = expect["segments"].get(row[7], 0) + 1
                answer = {"yes": "consent_yes", "no": "consent_no"}.get(row[10], "consent_none")
                expect[answer] = expect.get(answer, 0) + 1

    expect["imported"] = args.rows - sum(expect["rejected"].values())
    expect["examples"] = pick_examples(args.out, broken, today)
    if args.expect:
        with open(args.expect, "w") as f:
            json.dump(expect, f, indent=2, sort_keys=True)
    rejected = sum(expect["rejected"].values())
    by_country = ", ".join(f"{c} {n}" for c, n in sorted(expect["countries"].items(), key=lambda x: -x[1]))
    print(f"{args.rows} customers from {len(expect['countries'])} countries ({by_country})")
    print("names in Latin, Cyrillic, Greek, CJK and Arabic script; e-mail under example.com/.org/.net")
    print(f"planted: {expect['duplicates']} people entered twice (e-mail in other case and spacing, phone in "
          f"international form)")
    print(f"         {rejected} broken rows (" +
          ", ".join(f"{reasons[k]}: {n}" for k, n in sorted(expect["rejected"].items())) + ")")


if __name__ == "__main__":
    sys.exit(main())

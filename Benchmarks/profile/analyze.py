#!/usr/bin/env python3
"""Shares of time in an import, from stacks recorded by sample.sh.

    python3 Benchmarks/profile/analyze.py STACKS.txt [--top 40]

Demangles with swift-demangle, then prints the share of samples whose stack contains each
phase of RecordStore.upsert / Vault.importCSV (inclusive), and the top inclusive frames.
"""
import collections, re, subprocess, sys

path = sys.argv[1]
top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 40
raw = [l.rstrip("\n").split(";") for l in open(path) if not l.startswith("#") and l.strip()]
names = sorted({f for s in raw for f in s})
demangled = subprocess.run(["swift-demangle", "--simplified"], input="\n".join(names) + "\n",
                           capture_output=True, text=True, check=True).stdout.split("\n")
mapping = dict(zip(names, demangled))
stacks = [[mapping.get(f, f) for f in s] for s in raw]
n = len(stacks)

def has(s, pattern): return any(re.search(pattern, f) for f in s)
def share(pred): return 100.0 * sum(1 for s in stacks if pred(s)) / n

phases = [
    ("CSV reader", lambda s: has(s, r"CSVReader\.next")),
    ("ImportPlan.values / problem (trimming, dictionary)", lambda s: has(s, r"ImportPlan\.(values|problem)")),
    ("RecordStore.upsert", lambda s: has(s, r"RecordStore\.upsert")),
    ("  existence read (RecordStore.load)", lambda s: has(s, r"RecordStore\.load")),
    ("  RecordStore.normalize", lambda s: has(s, r"RecordStore\.normalize")),
    ("    trimmingCharacters inside normalize", lambda s: has(s, r"RecordStore\.normalize") and has(s, r"trimmingCharacters")),
    ("    Normalizer.phone", lambda s: has(s, r"Normalizer\.phone")),
    ("      of which libphonenumber (C++)", lambda s: has(s, r"pk_phone_normalize")),
    ("    Normalizer.email", lambda s: has(s, r"Normalizer\.email")),
    ("    Normalizer.name", lambda s: has(s, r"Normalizer\.name")),
    ("    Normalizer.nationalID", lambda s: has(s, r"Normalizer\.nationalID")),
    ("    Normalizer.text", lambda s: has(s, r"Normalizer\.text")),
    ("    Normalizer.date", lambda s: has(s, r"Normalizer\.date")),
    ("    Normalizer.country", lambda s: has(s, r"Normalizer\.country")),
    ("    Normalizer.nfkc (Foundation), all kinds", lambda s: has(s, r"Normalizer\.nfkc")),
    ("  Timestamp.now", lambda s: has(s, r"Timestamp\.now")),
    ("  crypto: newSubjectKey + wrap + seal", lambda s: has(s, r"FieldCipher\.(newSubjectKey|wrapSubjectKey|seal)")),
    ("  RecordStore.json (JSONEncoder)", lambda s: has(s, r"RecordStore\.json")),
    ("  encodeSealed", lambda s: has(s, r"encodeSealed")),
    ("  INSERT INTO subjects", lambda s: has(s, r"RecordStore\.upsert") and has(s, r"Statement\.execute\(arguments") and not has(s, r"writeIndexes")),
    ("  writeIndexes", lambda s: has(s, r"writeIndexes")),
    ("    BlindIndexer.index", lambda s: has(s, r"BlindIndexer\.index")),
    ("    INSERT INTO blind_index", lambda s: has(s, r"writeIndexes") and has(s, r"Statement\.execute\(arguments")),
    ("SAVEPOINT / RELEASE per row", lambda s: has(s, r"inSavepoint") and not has(s, r"RecordStore\.upsert")),
    ("audit events (AuditLog.append)", lambda s: has(s, r"AuditLog\.append")),
    ("COMMIT", lambda s: has(s, r"Database\.commit")),
    ("  WAL checkpoint (with fdatasync)", lambda s: has(s, r"sqlite3WalCheckpoint")),
    ("SQLite page-cache spill (sqlite3PcacheFetchStress)", lambda s: has(s, r"sqlite3PcacheFetchStress")),
    ("all of sqlite3_step", lambda s: has(s, r"sqlite3_step")),
    ("in pwrite/pread/fdatasync", lambda s: re.search(r"pwrite|pread|fdatasync", s[0]) is not None),
    ("in getrandom", lambda s: "getrandom" in s[0]),
    ("in swift_retain/release", lambda s: re.search(r"swift_(retain|release)|doDecrementSlow|_swift_release_dealloc", s[0]) is not None),
]
print("%d samples" % n)
for name, pred in phases:
    print("%5.1f%%  %s" % (share(pred), name))
counts = collections.Counter()
for s in stacks:
    for f in set(s):
        counts[f[:150]] += 1
print("\ntop inclusive frames:")
for f, c in counts.most_common(top):
    print("%5.1f%%  %s" % (100.0 * c / n, f))

#!/usr/bin/env python3
"""Every privacyctl command's --json answer against its committed JSON Schema (issue 22,
point 1): runs a scenario that calls each command on a scratch vault, checks that each
answer is one line, and validates it against docs/schemas/COMMAND.schema.json (a
failure's against error.schema.json); then runs every command once more where it must
fail, and validates that answer too.

    scripts/json-schemas.py --bin PATH [--write]

--write infers the schemas from this run's answers and writes them (after a change to an
output: review the diff). Needs python3-jsonschema (Debian) or jsonschema (pip).
"""
import argparse, json, os, subprocess, sys, tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
schemas = os.path.join(root, "docs", "schemas")

def scenario(run, tmp):
    """(command path, arguments) in an order where each one can succeed."""
    csv = os.path.join(tmp, "crm.csv")
    with open(csv, "w") as f:
        f.write("id,full_name,email,phone,country,last_interaction\n")
        f.write("c1,Ann Lee,ann@example.com,+44 20 7946 0958,GB,2020-01-01\n")
        f.write("c2,Bo Chen,bo@example.com,+86 138 0013 8000,CN,2026-11-01\n")
        f.write("c3,Cy Diaz,cy@example.com,,US,2026-11-02\n")
    key2 = os.path.join(tmp, "root2.key")
    yield "keys generate-key-file", [key2]
    yield "keys status", []
    yield "import", [csv]
    yield "records put", ["--subject", "c4", "--set", "email=dee@example.com"]
    yield "records get", ["--subject", "c1"]
    yield "records find", ["--field", "email", "--value", "ANN@example.com"]
    yield "records list", []
    yield "records delete", ["--subject", "c4", "--field", "email"]
    yield "quality report", []
    yield "quality duplicates", []
    yield "consent grant", ["--subject", "c1", "--purpose", "marketing-email", "--channel", "web-form"]
    yield "consent withdraw", ["--subject", "c1", "--purpose", "marketing-email"]
    yield "consent object", ["--subject", "c2", "--gpc"]
    yield "consent status", ["--subject", "c1"]
    yield "consent history", ["--subject", "c1"]
    yield "consent audience", ["--purpose", "marketing-email"]
    yield "consent counts", []
    receipt = os.path.join(tmp, "consent-receipt.json")
    with open(receipt, "w") as f:
        f.write(run("consent receipt", ["--subject", "c1"], json_flag=False))
    yield "consent receipt", ["--subject", "c1"]
    yield "consent verify-receipt", [receipt]
    yield "audit checkpoint", ["--out", os.path.join(tmp, "witness.jsonl")]
    yield "audit verify", ["--against", os.path.join(tmp, "witness.jsonl")]
    yield "audit public-key", []
    yield "audit query", ["--limit", "2"]
    yield "audit export", ["--out", os.path.join(tmp, "audit.jsonl")]
    yield "access check", ["--role", "support-agent", "--action", "read", "--field", "email", "--purpose", "customer-support"]
    yield "policy validate", []
    yield "policy default", ["access.yaml"]
    yield "holds place", ["--subject", "c2", "--reason", "claim"]
    hold = json.loads(run("holds list", [])).get("holds", [{}])[0].get("id", "")
    yield "holds list", []
    yield "holds release", [hold, "--reason", "settled"]
    yield "restrict place", ["c3", "--reason", "contested"]
    yield "restrict list", []
    yield "restrict lift", ["c3", "--reason", "resolved"]
    yield "retention report", []
    request = json.loads(run("requests open", ["--type", "access", "--subject", "c1", "--regime", "gdpr"])).get("request", {}).get("id", "")
    yield "requests list", []
    yield "requests show", [request]
    yield "requests verify-identity", [request, "--verified-at", "now", "--method", "account-login", "--degree", "reasonable"]
    yield "requests extend", [request, "--reason", "complex"]
    yield "export keypair", ["--out", os.path.join(tmp, "requester")]
    yield "export subject", ["c1", "--out", os.path.join(tmp, "package"), "--seal-to", os.path.join(tmp, "requester.pub"), "--request", request]
    yield "requests close", [request, "--outcome", "completed"]
    erasure = json.loads(run("requests open", ["--type", "erasure", "--subject", "c3", "--regime", "gdpr"])).get("request", {}).get("id", "")
    yield "requests open", ["--type", "erasure", "--subject", "c3", "--regime", "gdpr"]
    yield "erase subject", ["c3", "--reason", "asked", "--out", os.path.join(tmp, "erasure.json"), "--request", erasure]
    yield "requests verify-identity", [erasure, "--verified-at", "now", "--method", "in-person", "--degree", "high"]
    yield "requests close", [erasure, "--outcome", "completed"]
    yield "requests list", []
    yield "erase verify-receipt", [os.path.join(tmp, "erasure.json")]
    yield "erase list", []
    yield "export open", [os.path.join(tmp, "package"), "--secret-key", os.path.join(tmp, "requester.key"), "--out", os.path.join(tmp, "opened")]
    yield "breach open", ["--detected-at", "2026-12-01T10:00:00Z", "--summary", "lost laptop"]
    breach = json.loads(run("breach list", [])).get("breaches", [{}])[0].get("id", "")
    yield "breach list", []
    yield "breach show", [breach]
    yield "breach affected", ["--since", "2026-01-01", "--until", "2030-01-01"]
    yield "breach notify", [breach, "--regime", "gdpr", "--regime", "pipl", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "phishing risk",
                            "--measures", "passwords reset", "--persons", "csv", "--out", os.path.join(tmp, "notices")]
    yield "breach close", [breach, "--reason", "contained"]
    yield "backup recovery-keypair", ["--out", os.path.join(tmp, "recovery")]
    os.makedirs(os.path.join(tmp, "backups"), exist_ok=True)
    yield "backup create", ["--out", os.path.join(tmp, "backups"), "--recovery-key", os.path.join(tmp, "recovery.pub")]
    yield "backup list", ["--dir", os.path.join(tmp, "backups")]
    yield "backup verify", ["latest", "--dir", os.path.join(tmp, "backups")]
    yield "backup prune", ["--dir", os.path.join(tmp, "backups"), "--keep-days", "35"]
    yield "backup export-ledger", [os.path.join(tmp, "ledger.json")]
    yield "backup restore", [run_latest(tmp), "--out", os.path.join(tmp, "restored")]
    yield "report", ["--out", os.path.join(tmp, "report.html")]
    yield "ropa", ["--format", "csv", "--out", os.path.join(tmp, "ropa.csv")]
    yield "clients add", ["shop", "--role", "service", "--purpose", "order-fulfilment"]
    yield "clients list", []
    yield "clients rotate", ["shop"]
    yield "clients revoke", ["shop"]
    yield "sweep", []
    yield "status", []
    yield "keys rotate-kek", []
    yield "keys rotate-index", []
    yield "upgrade", []
    yield "keys rotate-root", ["--new-key-file", key2]

def run_latest(tmp):
    backups = sorted(os.listdir(os.path.join(tmp, "backups"))) if os.path.isdir(os.path.join(tmp, "backups")) else []
    return os.path.join(tmp, "backups", backups[-1]) if backups else "none"

# Members whose keys are data (field names, categories, states, rule ids), not names.
MAPS = {"fields", "categories", "states", "by_rule", "figures", "counts", "purposes", "by_category", "by_purpose", "by_action"}

def infer(value, parent=None):
    if isinstance(value, bool): return {"type": "boolean"}
    if isinstance(value, int): return {"type": "integer"}
    if isinstance(value, float): return {"type": "number"}
    if isinstance(value, str): return {"type": "string"}
    if value is None: return {}
    if isinstance(value, list):
        items = [infer(v) for v in value]
        return {"type": "array", "items": merge(items)} if items else {"type": "array"}
    if parent in MAPS:
        values = [infer(v) for v in value.values()]
        return {"type": "object", "additionalProperties": merge(values) if values else {}}
    keys = sorted(value)
    return {"type": "object", "properties": {k: infer(value[k], k) for k in keys}, "required": [k for k in keys if value[k] is not None],
            "additionalProperties": False}

def merge(schemas):
    """One schema for every item of an array: the union of members, the intersection of
    what is required, numbers as numbers."""
    if not schemas: return {}
    if all(s.get("type") == "object" and "properties" in s for s in schemas):
        names = sorted(set().union(*(s["properties"] for s in schemas)))
        return {"type": "object",
                "properties": {n: merge([s["properties"][n] for s in schemas if n in s["properties"]]) for n in names},
                "required": [n for n in names if all(n in s.get("required", []) for s in schemas)], "additionalProperties": False}
    if all(s.get("type") == "array" for s in schemas):
        inner = [s["items"] for s in schemas if "items" in s]
        return {"type": "array", "items": merge(inner)} if inner else {"type": "array"}
    types = {s.get("type") for s in schemas}
    if types <= {"integer", "number"}: return {"type": "number" if "number" in types else "integer"}
    if len(types) == 1 and None not in types: return schemas[0] if schemas[0].get("type") != "object" else {"type": "object"}
    return {}

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    try:
        import jsonschema
    except ImportError:
        sys.exit("json-schemas: needs the jsonschema module (apt install python3-jsonschema)")
    problems, checked = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        key = os.path.join(tmp, "root.key")
        env = dict(os.environ, PRIVACYKIT_VAULT=os.path.join(tmp, "vault"), PRIVACYKIT_KEY_FILE=key, PRIVACYKIT_ACTOR="schema-check")
        subprocess.run([args.bin, "keys", "generate-key-file", key], check=True, capture_output=True)
        made = subprocess.run([args.bin, "init", "--vault", env["PRIVACYKIT_VAULT"], "--key-file", key, "--json"], check=True, capture_output=True, text=True)

        def run(path, arguments, json_flag=True):
            result = subprocess.run([args.bin] + path.split() + arguments + (["--json"] if json_flag else []), env=env, capture_output=True, text=True)
            return result.stdout
        seen, paths, request_samples = {"init": json.loads(made.stdout)}, ["init"], []
        # Run as yielded: later steps read ids from what earlier ones made.
        for path, arguments in scenario(run, tmp):
            paths.append(path)
            result = subprocess.run([args.bin] + path.split() + arguments + ["--json"], env=env, capture_output=True, text=True)
            lines = result.stdout.splitlines()
            if path == "consent audience":
                lines = lines[-1:]  # a stream: one object per subject, then the summary checked here
            if len(lines) != 1:
                problems.append(f"{path}: {len(lines)} lines on standard output, not one (exit {result.returncode}): {result.stderr.strip()[:200]}")
                continue
            answer = json.loads(lines[0])
            if result.returncode != 0 or answer.get("ok") is not True:
                problems.append(f"{path}: failed in the scenario (exit {result.returncode}): {lines[0][:300]}")
                continue
            seen[path] = answer
            # A request's members depend on its state: its schema is the union of every one seen.
            for request in [answer.get("request")] + answer.get("requests", []) if path.startswith("requests ") else []:
                if request: request_samples.append(infer(request))
        name = lambda path: os.path.join(schemas, path.replace(" ", "-") + ".schema.json")
        if args.write:
            os.makedirs(schemas, exist_ok=True)
            for path, answer in seen.items():
                schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"privacyctl {path} --json"}
                schema.update(infer(answer))
                if path.startswith("requests ") and request_samples:
                    merged = merge(request_samples)
                    members = schema["properties"]
                    if "request" in members: members["request"] = merged
                    if "requests" in members: members["requests"] = {"type": "array", "items": merged}
                with open(name(path), "w") as f:
                    json.dump(schema, f, indent=2, sort_keys=True)
                    f.write("\n")
        for path, answer in seen.items():
            if not os.path.exists(name(path)):
                problems.append(f"{path}: no schema {os.path.relpath(name(path), root)} (scripts/json-schemas.py --write)")
                continue
            try:
                jsonschema.validate(answer, json.load(open(name(path))))
                checked += 1
            except jsonschema.ValidationError as error:
                problems.append(f"{path}: does not match its schema: {error.message} at {'/'.join(map(str, error.absolute_path))}")
        # Every command, made to fail: one line, the error object.
        error_schema = json.load(open(os.path.join(schemas, "error.schema.json")))
        failing = dict(env, PRIVACYKIT_VAULT=os.path.join(tmp, "no-such-vault"))
        for path in dict.fromkeys(paths):
            result = subprocess.run([args.bin] + path.split() + ["--json", "--no-such-flag"], env=failing, capture_output=True, text=True)
            lines = result.stdout.splitlines()
            if result.returncode == 0 or len(lines) != 1:
                problems.append(f"{path} (failing): exit {result.returncode}, {len(lines)} lines")
                continue
            try:
                jsonschema.validate(json.loads(lines[0]), error_schema)
                checked += 1
            except (jsonschema.ValidationError, ValueError) as error:
                problems.append(f"{path} (failing): not the error object: {error}")
    # Every command argument-parser knows must be in the scenario.
    tree = json.loads(subprocess.run([args.bin, "--experimental-dump-help"], capture_output=True, text=True).stdout)["command"]
    def leaves(command, path):
        subcommands = [c for c in command.get("subcommands", []) if c["commandName"] != "help"]
        return [" ".join(path)] if not subcommands else [l for c in subcommands for l in leaves(c, path + [c["commandName"]])]
    for path in leaves(tree, []):
        if path not in paths:
            problems.append(f"{path}: not in the scenario of scripts/json-schemas.py")
    for problem in problems:
        print("json-schemas: " + problem, file=sys.stderr)
    print(f"json-schemas: {checked} answers of {len(seen)} commands (and each failing) valid against docs/schemas/")
    sys.exit(1 if problems else 0)

if __name__ == "__main__":
    main()

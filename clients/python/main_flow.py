"""The main flow of a service, against a running privacyd (run by privacyd's tests in CI).

    python3 main_flow.py URL CA_FILE SERVICE_TOKEN OFFICER_TOKEN MARKETER_TOKEN

Prints one JSON line of what it saw; exits 1 on the first surprise.
"""

import json
import sys

from privacyd_client import Privacyd, PrivacydError


def main(url, ca, service_token, officer_token, marketer_token):
    service = Privacyd(url, service_token, ca_file=ca, purpose="customer-support", end_user="agent-7")
    officer = Privacyd(url, officer_token, ca_file=ca, purpose="privacy-compliance")
    marketer = Privacyd(url, marketer_token, ca_file=ca, purpose="marketing-email")
    seen = {}

    service.put("py-1", {"email": "mei@example.com", "phone": "+886 912 555 010"})
    envelope = service.encrypt("email", "py-1", "mei.chen@example.com")
    seen["envelope_prefix"] = envelope[:4]
    seen["found"] = service.find("email", "MEI@example.com")
    seen["decrypted"] = service.decrypt("email", "py-1", envelope) == "mei.chen@example.com"
    service.grant("py-1", "marketing-email")
    seen["may"] = [answer["allowed"] for answer in service.may(["py-1"], "marketing-email")]
    try:
        marketer.get(["py-1"], fields=["phone"])
        seen["refused"] = None
    except PrivacydError as refusal:
        seen["refused"] = [refusal.status, refusal.code]
    seen["erased"] = "receipt" in officer.erase("py-1", "asked by the customer")
    try:
        service.decrypt("email", "py-1", envelope)
        seen["after_erasure"] = None
    except PrivacydError as gone:
        seen["after_erasure"] = gone.code
    print(json.dumps(seen, sort_keys=True))
    expected = {"envelope_prefix": "pk1.", "found": ["py-1"], "decrypted": True, "may": [True], "refused": [403, "denied"],
                "erased": True, "after_erasure": "not-found"}
    return 0 if seen == expected else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))

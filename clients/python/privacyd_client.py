"""A small privacyd client on Python's standard library (urllib, ssl, json).

    client = Privacyd("https://vault.internal:8443", token, ca_file="ca.pem")
    envelope = client.encrypt("email", "c1", "ana@example.com")
    client.decrypt("email", "c1", envelope, purpose="customer-support")

Subject ids and values go in JSON bodies, never in a URL. Errors raise PrivacydError with
the server's stable code (the same as privacyctl's), its HTTP status and message.
"""

import json
import ssl
import urllib.error
import urllib.request


class PrivacydError(Exception):
    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Privacyd:
    def __init__(self, url, token, ca_file=None, purpose=None, end_user=None, timeout=30):
        self.url = url.rstrip("/")
        self.token = token
        self.purpose = purpose
        self.end_user = end_user
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=ca_file)

    def call(self, path, body=None, purpose=None):
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        if purpose or self.purpose:
            headers["PrivacyKit-Purpose"] = purpose or self.purpose
        if self.end_user:
            headers["PrivacyKit-End-User"] = self.end_user
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method="GET" if data is None else "POST")
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as failure:
            try:
                error = json.load(failure).get("error", {})
            except ValueError:
                error = {}
            raise PrivacydError(failure.code, error.get("code", "unknown"), error.get("message", "")) from None

    @staticmethod
    def _values(results, key):
        """The batch's values in order; an item's error raises."""
        values = []
        for item in results:
            if "error" in item:
                raise PrivacydError(200, item["error"]["code"], item["error"]["message"])
            values.append(item[key])
        return values

    def encrypt(self, field, subject, value, purpose=None):
        results = self.call("/v1/transit/encrypt", {"items": [{"field": field, "subject": subject, "value": value}]}, purpose)["results"]
        return self._values(results, "envelope")[0]

    def decrypt(self, field, subject, envelope, purpose=None):
        results = self.call("/v1/transit/decrypt", {"items": [{"field": field, "subject": subject, "envelope": envelope}]}, purpose)["results"]
        return self._values(results, "value")[0]

    def put(self, subject, values, purpose=None):
        return self.call("/v1/records/put", {"subject": subject, "values": values}, purpose)["result"]

    def get(self, subjects, fields=None, purpose=None):
        body = {"subjects": list(subjects)}
        if fields is not None:
            body["fields"] = list(fields)
        return self.call("/v1/records/get", body, purpose)["results"]

    def find(self, field, value, purpose=None):
        return self.call("/v1/records/find", {"field": field, "value": value}, purpose)["subjects"]

    def may(self, subjects, consent_purpose, purpose=None):
        return self.call("/v1/consent/may", {"subjects": list(subjects), "purpose": consent_purpose}, purpose)["answers"]

    def grant(self, subject, consent_purpose, purpose=None):
        return self.call("/v1/consent/grant", {"subject": subject, "purpose": consent_purpose}, purpose)["event"]

    def erase(self, subject, reason, purpose=None):
        return self.call("/v1/erasure", {"subject": subject, "reason": reason}, purpose)

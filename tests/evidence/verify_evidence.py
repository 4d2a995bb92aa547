#!/usr/bin/env python3
"""Verify a Patrol companion evidence file (DESIGN.md §12) with no project code.

    python3 verify_evidence.py evidence-<issue>.json

Uses only Python's standard library (hashlib, json, base64) and the `cryptography` package for
Ed25519, so anyone — a resident, an owners' committee, an auditor — can check that an issue's
record was not altered after the server wrote it:

  * every audit entry's `hash` is the SHA-256 of the RFC 8785 (JCS) form of the entry without
    its `hash`, and its `prev` is the previous entry's hash (the issue id for the first);
  * every sign-off is an Ed25519 signature, by one of the listed server keys, over the JCS form
    of what it signed, and what it signed is what the trail says at its chain head;
  * every accepted verification of the trail has its signed sign-off.

Exit status 0 when all of it holds; 1, naming the first thing that does not, otherwise.
"""

import base64
import hashlib
import json
import math
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Fault(Exception):
    pass


def jcs_number(n):
    if isinstance(n, bool):
        raise TypeError("bool is not a number")
    if isinstance(n, int):
        return str(n)
    if not math.isfinite(n):
        raise Fault("a number is not finite")
    if n == int(n) and abs(n) < 1e21:
        return str(int(n))
    # ECMAScript's Number.prototype.toString, which JCS uses: shortest round trip, exponent
    # written as e+NN / e-NN.
    r = repr(n)
    if "e" in r:
        mantissa, exp = r.split("e")
        if mantissa.endswith(".0"):
            mantissa = mantissa[:-2]
        sign = "-" if exp.startswith("-") else "+"
        return f"{mantissa}e{sign}{exp.lstrip('+-').lstrip('0') or '0'}"
    return r


def jcs(v):
    """RFC 8785 canonical JSON of a value read by json.loads."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return jcs_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v[k]) for k in keys) + "}"
    raise Fault(f"not a JSON value: {v!r}")


def sha256_hex(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_chain(issue_id, audit):
    prev = issue_id
    for i, entry in enumerate(audit, start=1):
        name = f"issue {issue_id}, audit entry {i} ({entry.get('id', '?')})"
        if entry.get("issue_id") != issue_id:
            raise Fault(f"{name}: names another issue")
        if entry.get("prev") != prev:
            raise Fault(f"{name}: prev does not match the hash of the entry before")
        without = {k: v for k, v in entry.items() if k != "hash"}
        if sha256_hex(jcs(without)) != entry.get("hash"):
            raise Fault(f"{name}: hash does not match its contents")
        prev = entry["hash"]
    return prev


def accepted(entry):
    return entry.get("kind") == "issue.verify" and entry.get("accepted") is True


def signoff_claim(issue_id, trail):
    """What the server signs at an accepted verification: rebuilt from the trail alone."""
    last = trail[-1]
    photos = []
    for entry in trail:
        for p in entry.get("photos") or []:
            if p not in photos:
                photos.append(p)
    return {
        "kind": "signoff",
        "issue_id": issue_id,
        "chain_head": last.get("hash"),
        "photos": photos,
        "signature": last.get("signature"),
        "note": last.get("note"),
        "actor_id": last.get("actor_id"),
        "at": last.get("at"),
        "device_at": last.get("device_at"),
        "server_at": last.get("server_at"),
    }


def check_signature(signed, public_keys, name):
    key_id = signed.get("key_id")
    if key_id not in public_keys:
        raise Fault(f"{name}: signed by an unknown key {key_id}")
    public = b64url(public_keys[key_id])
    if hashlib.sha256(public).hexdigest()[:16] != key_id:
        raise Fault(f"{name}: the public key does not have the id {key_id}")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(
            b64url(signed["signature"]), jcs(signed["signed"]).encode("utf-8")
        )
    except (InvalidSignature, ValueError) as e:
        raise Fault(f"{name}: the signature does not verify") from e


def verify(evidence):
    issue_id = evidence["issue"]["id"]
    audit = evidence["audit"]
    head = check_chain(issue_id, audit)
    signed_heads = set()
    for i, s in enumerate(evidence["signoffs"], start=1):
        name = f"issue {issue_id}, sign-off {i}"
        check_signature(s, evidence["public_keys"], name)
        chain_head = s["signed"].get("chain_head")
        at = next((n for n, e in enumerate(audit) if e.get("hash") == chain_head), None)
        if at is None or not accepted(audit[at]):
            raise Fault(f"{name}: its chain head is not an accepted verification of the trail")
        if signoff_claim(issue_id, audit[: at + 1]) != s["signed"]:
            raise Fault(f"{name}: what it signed differs from the trail")
        signed_heads.add(chain_head)
    for e in audit:
        if accepted(e) and e["hash"] not in signed_heads:
            raise Fault(f"issue {issue_id}, entry {e.get('id')}: accepted without a signed sign-off")
    return issue_id, len(audit), len(evidence["signoffs"]), head


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: verify_evidence.py EVIDENCE.json", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        evidence = json.load(f)
    try:
        issue_id, entries, signoffs, head = verify(evidence)
    except (Fault, KeyError, TypeError, AttributeError) as e:
        print(f"FAILED: {e}")
        return 1
    print(f"verified: issue {issue_id}: {entries} audit entries, {signoffs} sign-offs, chain head {head}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

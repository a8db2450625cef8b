#!/usr/bin/env python3
"""Writes the pii filter's own evaluation sets (run once; the output is committed):

  hard_negatives.json  texts with no structured PII or credential, made to look like them
  secrets.json         credentials in sentences, labelled, one format per vendor

Same layout as presidio_synth_dataset_v2.json (full_text, spans[entity_type, start_position,
end_position], positions in characters), so one scorer reads all three.

Credentials follow each vendor's documented format (prefix, alphabet, length), drawn from a
seeded random generator: they are not produced from the filter's regexes, and none is a real key.
"""
import base64
import json
import random
import string
import uuid

R = random.Random(20261128)
ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"


def rs(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def luhn_ok(d):
    s, dbl = 0, False
    for ch in reversed(d):
        v = int(ch)
        if dbl:
            v = v * 2 - 9 if v * 2 > 9 else v * 2
        s += v
        dbl = not dbl
    return s % 10 == 0


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# --- hard negatives -------------------------------------------------------------------------
neg = []


def add(t):
    neg.append({"full_text": t, "spans": []})


for _ in range(40):  # 13-19 digit runs that fail Luhn, with and without grouping
    n = R.choice([13, 15, 16, 16, 19])
    while True:
        d = R.choice("3456") + rs(string.digits, n - 1)
        if not luhn_ok(d):
            break
    grouped = " ".join(d[i:i + 4] for i in range(0, len(d), 4)) if R.random() < 0.5 else d
    add(R.choice(["Reference number {} is on the receipt.", "Order #{} shipped yesterday.",
                  "The barcode reads {}.", "Invoice {} is overdue."]).format(grouped))
for _ in range(30):  # order / tracking / account numbers
    add(R.choice(["Order {} was placed on the website.", "Ticket {} has been escalated.",
                  "Your confirmation code is {}.", "Shipment {} left the depot."]).format(
        R.choice([rs(string.digits, R.randint(6, 11)), "1Z" + rs(string.ascii_uppercase + string.digits, 16),
                  rs(string.digits, 3) + "-" + rs(string.digits, 7), "#" + rs(string.digits, 8)])))
for _ in range(30):  # timestamps and dates
    y, mo, d = R.randint(1990, 2030), R.randint(1, 12), R.randint(1, 28)
    h, mi, s = R.randint(0, 23), R.randint(0, 59), R.randint(0, 59)
    add(R.choice([f"Logged at {y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d} UTC.",
                  f"Due on {d:02d}.{mo:02d}.{y} at noon.", f"Posted {mo:02d}/{d:02d}/{y}.",
                  f"Created {y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z by the job.",
                  f"Epoch {R.randint(1_000_000_000, 1_900_000_000)} seconds.",
                  f"Epoch millis {R.randint(1_000_000_000_000, 1_900_000_000_000)}.",
                  f"Meeting {d:02d}-{mo:02d}-{y} {h:02d}:{mi:02d}."]))
for _ in range(25):  # version strings and build numbers
    add(R.choice(["Upgrade to version {}.", "Running build {} on the CI.", "Requires Python {} or later.",
                  "Kernel {} was released."]).format(R.choice([
        f"{R.randint(0, 20)}.{R.randint(0, 40)}.{R.randint(0, 300)}",
        f"{R.randint(1, 12)}.{R.randint(0, 9)}.{R.randint(1000, 30000)}.{R.randint(0, 9)}",
        f"v{R.randint(0, 5)}.{R.randint(0, 20)}.{R.randint(0, 9)}-rc.{R.randint(1, 5)}",
        f"{R.randint(1, 6)}.{R.randint(0, 19)}.{R.randint(0, 200)}-{R.randint(100, 999)}-generic"])))
for _ in range(25):  # UUIDs, hashes, hex ids
    add(R.choice(["Request id {} failed.", "Commit {} fixed it.", "Trace {} in the logs.",
                  "Object {} was deleted."]).format(R.choice([
        str(uuid.UUID(int=R.getrandbits(128))), rs("0123456789abcdef", 40), rs("0123456789abcdef", 64),
        rs("0123456789abcdef", 12)])))
for _ in range(20):  # quantities, prices, coordinates, scores
    add(R.choice([f"It costs ${R.randint(1, 9)},{R.randint(100, 999)}.{R.randint(10, 99)} in total.",
                  f"Located at {R.uniform(-80, 80):.6f}, {R.uniform(-170, 170):.6f}.",
                  f"The score was {R.randint(0, 99)} - {R.randint(0, 99)} after {R.randint(80, 120)} minutes.",
                  f"Population {R.randint(1, 999)} {R.randint(100, 999)} {R.randint(100, 999)}.",
                  f"Ratio 1:{R.randint(2, 99)} and pi is 3.14159."]))
for _ in range(15):  # code and prose that look like addresses and keys
    add(R.choice(["Use std::vector<int> and std::map in C++.", "Call obj::method() then a::b::c.",
                  "Meet me at 10:30:45 or 12:00.", "The decorator @app.route('/x') is flask.",
                  "Email me at my usual address (no, not here).", "The CSS colour is #a1b2c3.",
                  "MAC 00:1a:2b:3c:4d:5e is a device id.", "Set token_limit=4096 and max_keys=20.",
                  "The password must be at least 12 characters.", "The api_key field is required.",
                  "Prefix sk- marks an OpenAI key; ghp_ marks a GitHub token.",
                  "The file is 1.2.3.4.5 levels deep.", "ISBN 978-3-16-148410-0 is a book.",
                  "Version 10.0.0.1 of the firmware.", "Call the function with x=1, y=2."]))
for _ in range(20):  # invalid SSNs, IBANs and IPs
    add(R.choice([
        "SSN {}-{}-{} is invalid.".format(R.choice(["000", "666", "9" + rs(string.digits, 2)]),
                                          R.randint(10, 99), R.randint(1000, 9999)),
        f"Case {R.randint(100, 899)}-00-{R.randint(1000, 9999)} is closed.",
        f"IBAN GB{R.randint(10, 99)}WEST{rs(string.digits, 14)} was mistyped.",  # checksum fails 96%
        f"Address {R.randint(256, 999)}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(0, 255)} is not valid.",
    ]))

# A mistyped IBAN can pass mod-97 by chance; keep only the ones that fail it.
def iban_ok(s):
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


neg = [n for n in neg if not ("IBAN GB" in n["full_text"] and iban_ok(n["full_text"].split()[1]))]

# --- credentials ------------------------------------------------------------------------------
sec = []


def jwt():
    header = {"alg": R.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    payload = {"sub": rs(string.digits, 10), "name": R.choice(["Ann", "Bo", "Cy"]), "iat": R.randint(1e9, 2e9)}
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()),
                     b64url(bytes(R.getrandbits(8) for _ in range(32)))])


def pem():
    kind = R.choice(["RSA ", "EC ", "OPENSSH ", ""])
    body = "\n".join(base64.b64encode(bytes(R.getrandbits(8) for _ in range(48))).decode() for _ in range(4))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


FORMATS = {
    # OpenAI: project keys "sk-proj-" + 156 url-safe chars with the "T3BlbkFJ" marker; legacy 51.
    "openai_key": lambda: R.choice(["sk-proj-" + rs(B64URL, 74) + "T3BlbkFJ" + rs(B64URL, 74),
                                    "sk-" + rs(ALNUM, 20) + "T3BlbkFJ" + rs(ALNUM, 20)]),
    "anthropic_key": lambda: "sk-ant-api03-" + rs(B64URL, 93) + "AA",
    "aws_access_key": lambda: R.choice(["AKIA", "ASIA"]) + rs(string.ascii_uppercase + "234567", 16),
    "github_token": lambda: R.choice([R.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + rs(ALNUM, 36),
                                      "github_pat_" + rs(ALNUM, 22) + "_" + rs(ALNUM, 59)]),
    "gitlab_token": lambda: R.choice(["glpat-", "gldt-", "glrt-"]) + rs(ALNUM + "-_", 20),
    "slack_token": lambda: R.choice(["xoxb-", "xoxp-"]) + rs(string.digits, 12) + "-" + rs(string.digits, 13) +
                           "-" + rs(ALNUM, 24),
    "stripe_key": lambda: R.choice(["sk_live_", "sk_test_", "rk_live_"]) + rs(ALNUM, R.choice([24, 99])),
    "google_api_key": lambda: "AIza" + rs(B64URL, 35),
    "huggingface_token": lambda: "hf_" + rs(string.ascii_letters, 34),
    "npm_token": lambda: "npm_" + rs(ALNUM, 36),
    "jwt": jwt,
    "private_key": pem,
}
TEMPLATES = ["Here is the key: {} — please rotate it.", "export TOKEN={}\n", "config = {{\"key\": \"{}\"}}",
             "I pasted {} by mistake", "Authorization: Bearer {}", "{}"]
for typ, gen in FORMATS.items():
    for _ in range(25):
        v = gen()
        t = R.choice(TEMPLATES)
        text = t.format(v)
        start = text.index(v)
        sec.append({"full_text": text, "spans": [{"entity_type": typ, "entity_value": v,
                                                   "start_position": start, "end_position": start + len(v)}]})
for _ in range(25):  # AWS secret access keys appear with their key word
    v = rs(ALNUM + "/+", 40)
    text = R.choice(["aws_secret_access_key = {}", "AWS_SECRET_ACCESS_KEY={}", "\"SecretAccessKey\": \"{}\""]).format(v)
    start = text.index(v)
    sec.append({"full_text": text, "spans": [{"entity_type": "aws_secret_key", "entity_value": v,
                                               "start_position": start, "end_position": start + len(v)}]})

json.dump(neg, open("hard_negatives.json", "w"), indent=1, ensure_ascii=False)
json.dump(sec, open("secrets.json", "w"), indent=1, ensure_ascii=False)
print(len(neg), "hard negatives,", len(sec), "credentials")

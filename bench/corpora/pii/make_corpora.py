#!/usr/bin/env python3
"""Writes the pii benchmark's corpora (run once; the output is committed):

  clean_prose.txt  512 KiB of English-like prose: common words, punctuation, paragraphs, and the
                   numbers prose has (years, counts, times, prices, versions) but no PII
  pii_dense.txt    the same prose with a personal value or credential every ~120 bytes on average
                   (emails, phones, cards, IBANs, SSNs, IPs, API keys, JWTs), ~10% of the bytes

Seeded, so a re-run writes the same bytes. Values are fake (test card ranges, example domains,
random tokens in each vendor's documented shape).
"""
import base64
import random
import string

R = random.Random(7)
WORDS = """the of and to in is was that for it as with be on by this are from at or an which not have
has but had were they their one all we can been more there when will would who so if no out up what
about into than them some could other time only its new these two may first then do any like my now
over such our man me even most made after also did many before must through back years where much
your way well down should because each just those people how too little state good very make world
still own see men work long get here between both life being under never day same another know while
last might us great old year off come since against go came right used take three states himself few
house use during without again place american around however home small found thought went say part
once general high upon school every don does got united left number course war until always away
something fact though water less public put think almost hand enough far took head yet government
system better set told nothing night end why called didn eyes find going look asked later knew point
next program city business give group toward young days let room president side social given present
several order national possible rather second face per among form important often things looking early
white case john become large big need four within felt along children saw best church ever least power
development light thing seemed family interest want members others mind country area done turned
although open god service certain kind problem began different door thus help sense means whole matter
perhaps itself york times law human line above name example action company hands local show whether
five history gave today either act feet across taken past quite anything seen having death experience
body word half really field week car words already information tell together college shall money
period held keep sure probably free seems real behind cannot miss political air question making office
brought whose special major heard problems ago became federal moment study available known result
street economic boy position reason change south board individual job areas society west close turn
love community true court force full seem am front feel policy nature""".split()


def sentence():
    n = R.randint(6, 22)
    ws = [R.choice(WORDS) for _ in range(n)]
    r = R.random()
    if r < 0.08:
        ws.insert(R.randint(0, n), str(R.randint(1900, 2030)))
    elif r < 0.14:
        ws.insert(R.randint(0, n), str(R.randint(2, 500)))
    elif r < 0.16:
        ws.insert(R.randint(0, n), f"{R.randint(1, 12)}:{R.randint(0, 59):02d}")
    elif r < 0.18:
        ws.insert(R.randint(0, n), f"${R.randint(1, 999)}.{R.randint(0, 99):02d}")
    elif r < 0.19:
        ws.insert(R.randint(0, n), f"{R.randint(1, 9)}.{R.randint(0, 20)}.{R.randint(0, 9)}")
    if R.random() < 0.2:
        ws[R.randint(0, len(ws) - 1)] += ","
    s = " ".join(ws)
    return s[0].upper() + s[1:] + R.choice(".....?!")


def rs(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def luhn_complete(prefix, n):
    d = prefix + rs(string.digits, n - len(prefix) - 1)
    for c in string.digits:
        tot, alt = 0, False
        for ch in reversed(d + c):
            v = int(ch)
            if alt:
                v = v * 2 - 9 if v * 2 > 9 else v * 2
            tot += v
            alt = not alt
        if tot % 10 == 0:
            return d + c


def pii():
    k = R.randrange(12)
    ALNUM = string.ascii_letters + string.digits
    if k == 0:
        return f"{rs(string.ascii_lowercase, R.randint(3, 9))}.{rs(string.ascii_lowercase, 5)}@example.{R.choice(['com', 'org', 'net'])}"
    if k == 1:
        return R.choice([f"+1 {R.randint(201, 989)} 555 {R.randint(1000, 9999)}",
                         f"({R.randint(201, 989)}) 555-{R.randint(1000, 9999)}",
                         f"+44 20 {R.randint(1000, 9999)} {R.randint(1000, 9999)}"])
    if k == 2:
        c = luhn_complete(R.choice(["4", "51", "37", "6011"]), R.choice([16, 16, 15]))
        return " ".join(c[i:i + 4] for i in range(0, len(c), 4)) if R.random() < 0.5 else c
    if k == 3:
        body = "WEST" + rs(string.digits, 14)
        for chk in range(2, 99):
            s = body + "GB" + f"{chk:02d}"
            if int("".join(str(int(ch, 36)) for ch in s)) % 97 == 1:
                return f"GB{chk:02d}{body}"
    if k == 4:
        return f"{R.randint(100, 665)}-{R.randint(10, 99)}-{R.randint(1000, 9999)}"
    if k == 5:
        return ".".join(str(R.randint(1, 254)) for _ in range(4))
    if k == 6:
        return f"2001:db8:{R.randint(0, 65535):x}::{R.randint(0, 65535):x}"
    if k == 7:
        return "ghp_" + rs(ALNUM, 36)
    if k == 8:
        return "AKIA" + rs(string.ascii_uppercase + "234567", 16)
    if k == 9:
        return "sk_live_" + rs(ALNUM, 24)
    if k == 10:
        h = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
        p = base64.urlsafe_b64encode(b'{"sub":"%d"}' % R.randint(1, 10**9)).rstrip(b"=").decode()
        return f"{h}.{p}.{rs(ALNUM + '-_', 43)}"
    return "sk-proj-" + rs(ALNUM, 74) + "T3BlbkFJ" + rs(ALNUM, 74)


def corpus(dense, size=512 * 1024):
    out, n = [], 0
    while n < size:
        para = []
        for _ in range(R.randint(3, 8)):
            s = sentence()
            if dense:
                ws = s.split(" ")
                for _ in range(max(1, len(s) // 120 + (1 if R.random() < 0.3 else 0))):
                    ws.insert(R.randint(1, len(ws)), pii())
                s = " ".join(ws)
            para.append(s)
        p = " ".join(para) + "\n\n"
        out.append(p)
        n += len(p)
    return "".join(out)[:size]


open("clean_prose.txt", "w").write(corpus(False))
open("pii_dense.txt", "w").write(corpus(True))

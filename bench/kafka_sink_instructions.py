"""Sluice's own instructions per call with the Kafka sink on and off, per thread (callgrind):
what the sink costs the process, load-independent (issue 3's CPU target is on / off <= 1.1).

Run by bench/kafka_sink_instructions.sh (which starts sluice-mock and a local broker). Per
mode, Sluice (one worker) runs under `valgrind --tool=callgrind --separate-threads=yes` while
h2load sends non-streamed chat completions at two fixed rates for the same time; the
difference of the two runs' instruction totals over the difference of their calls is one
call's cost, start-up and shutdown cancelled out. Threads are named by what they run (the
function at the bottom of their stack: the worker, the spool writer, librdkafka's).
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafka_cpu_compare as K  # noqa: E402


def thread_totals(prefix):
    """{thread label: instructions} from callgrind's per-thread files `prefix-NN`."""
    out = {}
    for path in sorted(glob.glob(prefix + "-*")):
        total, label = 0, None
        text = open(path, errors="replace").read()
        m = re.search(r"^(?:totals|summary):\s+(\d+)", text, re.M)
        if m:
            total = int(m.group(1))
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", path], capture_output=True,
                             text=True).stdout
        for line in ann.splitlines():
            for key, name in (("run_worker", "worker"), ("SpoolWriter", "spool writer"),
                              ("rd_kafka_broker_thread_main", "librdkafka broker"),
                              ("rd_kafka_thread_main", "librdkafka main"),
                              ("KafkaProducer", "delivery"), ("(below main)", "main")):
                if key in line and label is None and "%" in line:
                    label = name
        if label is None and "librdkafka.so" in "\n".join(ann.splitlines()[:40]):
            label = "librdkafka"
        if label is None:
            # The thread's entry: the first named function under start_thread.
            names = []
            for l in ann.splitlines():
                m = re.match(r"\s*[\d,]+ \([ \d.]+%\)\s+\S*?:(.+?)(?: \[.*\])?$", l)
                if m and not re.search(r"start_thread|clone|0x[0-9a-f]+$|PROGRAM", m.group(1)):
                    names.append(m.group(1))
            label = (names[0][:50] if names else "?")
        out[label] = out.get(label, 0) + total
    return out


def measure(a, mode, rate):
    prefix = os.path.join(a.work, f"cg-{mode}-{rate}")
    real_popen = subprocess.Popen

    def popen(argv, *args, **kw):
        if argv and argv[0].endswith("/proxy/sluice"):
            argv = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                    f"--callgrind-out-file={prefix}"] + argv
        return real_popen(argv, *args, **kw)
    subprocess.Popen = popen
    try:
        proc, port, _ = K.start_sluice(a.build, a.work, mode, a.mock_port, a.bootstrap,
                                       f"bench.instr.{mode}.{rate}")
    finally:
        subprocess.Popen = real_popen
    try:
        ok, bad, _ = K.h2load(port, a.seconds, 8, rps=rate)
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    time.sleep(0.5)
    # h2load's warm-up second runs at the same rate and is not in its count.
    calls = ok * (a.seconds + 1) / a.seconds
    return thread_totals(prefix), calls, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--mock-port", type=int, required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rates", default="100,300")
    a = ap.parse_args()
    lo, hi = (int(x) for x in a.rates.split(","))
    print(f"rates {lo} and {hi} calls/s, {a.seconds} s each (+1 s warm-up), Sluice under callgrind")
    per = {}
    for mode in ("off", "on"):
        t_lo, c_lo, b_lo = measure(a, mode, lo)
        t_hi, c_hi, b_hi = measure(a, mode, hi)
        per[mode] = {k: (t_hi.get(k, 0) - t_lo.get(k, 0)) / (c_hi - c_lo)
                     for k in set(t_lo) | set(t_hi)}
        total = sum(per[mode].values())
        parts = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(per[mode].items(), key=lambda x: -x[1]))
        print(f"{mode}: {total:,.0f} instructions per call ({parts}); errors {b_lo + b_hi}",
              flush=True)
    d = sum(per["on"].values()) - sum(per["off"].values())
    print(f"on - off: {d:,.0f} instructions per call; on / off = "
          f"{sum(per['on'].values()) / sum(per['off'].values()):.3f}")


if __name__ == "__main__":
    main()

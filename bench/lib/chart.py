#!/usr/bin/env python3
"""Renders bench/results/latest.json as a PNG chart with gnuplot: closed-loop throughput
(medians, with min-max error bars) and fixed-rate latency (p50 and p99 medians) for the mock
alone ("direct"), nginx and Sluice, non-streamed and streamed.

Usage: chart.py LATEST_JSON OUT_PNG       (needs gnuplot; bench/run.sh calls it)
"""
import json
import os
import subprocess
import sys
import tempfile

TARGETS = ("direct", "nginx", "sluice")
KINDS = (("plain", "non-streamed"), ("stream", "streamed"))


def main():
    src, png = sys.argv[1], sys.argv[2]
    r = json.load(open(src))
    tput = r.get("throughput", {}).get("summary", {})
    rate = r.get("fixed_rate", {}).get("summary", {})
    if not tput and not rate:
        print("chart.py: no throughput or fixed-rate results to draw", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as d:
        tdat = os.path.join(d, "tput.dat")
        ldat = os.path.join(d, "lat.dat")
        with open(tdat, "w") as f:
            f.write("# kind direct dmin dmax nginx nmin nmax sluice smin smax\n")
            for key, label in KINDS:
                s = tput.get(key)
                if not s:
                    continue
                cols = []
                for t in TARGETS:
                    cols += [s[t]["median"], s[t]["min"], s[t]["max"]]
                f.write(f'"{label}" ' + " ".join(f"{v:.0f}" for v in cols) + "\n")
        with open(ldat, "w") as f:
            f.write("# label direct_p50 direct_p99 nginx_p50 nginx_p99 sluice_p50 sluice_p99\n")
            for key, label in KINDS:
                s = rate.get(key)
                if not s:
                    continue
                vals = []
                for t in TARGETS:
                    vals += [s[t]["p50"]["median"], s[t]["p99"]["median"]]
                f.write(f'"{label} @ {s["offered_rps"]} req/s" ' + " ".join(f"{v:.0f}" for v in vals) + "\n")
        when = r.get("finished", r.get("started", ""))[:16].replace("T", " ")
        script = f"""
set terminal pngcairo size 1200,480 font ",10"
set output "{png}"
set multiplot layout 1,2 title "Sluice vs nginx vs the mock alone ({when} UTC; bench/run.sh)"
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set key top right
set grid ytics
set yrange [0:*]
set title "closed-loop throughput (req/s, median, min-max)"
plot "{tdat}" using 2:3:4:xtic(1) title "direct", "" using 5:6:7 title "nginx", "" using 8:9:10 title "sluice"
set style histogram clustered gap 2
set key top left
set title "latency at a fixed rate (µs, median of runs)"
plot "{ldat}" using 2:xtic(1) title "direct p50", "" using 3 title "direct p99", \\
     "" using 4 title "nginx p50", "" using 5 title "nginx p99", \\
     "" using 6 title "sluice p50", "" using 7 title "sluice p99"
unset multiplot
"""
        gp = os.path.join(d, "chart.gp")
        open(gp, "w").write(script)
        subprocess.run(["gnuplot", gp], check=True)
    print(f"chart.py: wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

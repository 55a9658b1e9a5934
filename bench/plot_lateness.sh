#!/usr/bin/env bash
# Plots lateness percentiles against burst size (docs/bench/lateness.png) from
# docs/bench/lateness.dat, whose rows are the figures bench/burst.sh printed:
#   n p50_seconds p99_seconds max_seconds
# Usage: bench/plot_lateness.sh   (needs gnuplot: apt-get install gnuplot-nox)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v gnuplot >/dev/null || apt-get install -y gnuplot-nox >/dev/null
gnuplot <<GP
set terminal pngcairo size 800,500
set output "$root/docs/bench/lateness.png"
set title "Lateness (sent - due) against burst size, 2 cores, everything local"
set xlabel "greetings due at the same instant"
set ylabel "seconds"
set logscale xy
set key left top
set grid
plot "$root/docs/bench/lateness.dat" using 1:2 with linespoints title "p50", \
     "" using 1:3 with linespoints title "p99", \
     "" using 1:4 with linespoints title "max"
GP
echo "wrote docs/bench/lateness.png"

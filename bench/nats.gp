# SPDX-License-Identifier: MIT
# gnuplot -e "csv='bench/results/nats-2026-12-03.csv'; out='bench/results/nats.png'" bench/nats.gp
# Messages/s of the bare nats.c client (peer) and the bridges, by mode, size and --batch, from
# the CSV that scripts/bench-nats.sh writes.
if (!exists("csv")) csv = "bench/results/nats-2026-12-03.csv"
if (!exists("out")) out = "bench/results/nats.png"
set terminal pngcairo size 1000,560 font "sans,10"
set output out
set title "NATS: bare nats.c client vs ring -> shmring-nats -> NATS -> shmring-nats -> ring (log scale)"
set datafile separator ","
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set format y "10^{%L}"
set ylabel "messages/s at the receiving end"
set grid ytics
set key outside right top
set xtics rotate by -30
# One row per mode+size: columns peer, bridge batch 1, bridge batch 64 (the CSV lists them in
# that order for each mode and size; the JetStream "peer+id" rows are left out).
plot "< awk -F, 'NR>1 && $1!=\"peer+id\"{k=$2\" \"$3\" B\"; v[k]=v[k]\",\"$5; if(!(k in o)){o[k]=++n; name[n]=k}} END{for(i=1;i<=n;i++) print name[i] v[name[i]]}' ".csv \
       using 2:xtic(1) title "bare nats.c client" lc rgb "#7f7f7f", \
     '' using 3 title "bridges, no batch" lc rgb "#1f77b4", \
     '' using 4 title "bridges, --batch 64" lc rgb "#d62728"

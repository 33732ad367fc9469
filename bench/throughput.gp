# SPDX-License-Identifier: MIT
# gnuplot -e "dir='bench/results'" bench/throughput.gp: messages/s by message size, from
# throughput.dat written by bench/report.py, to throughput.png.
if (!exists("dir")) dir = "bench/results"
set terminal pngcairo size 1000,620 font "sans,10"
set output dir."/throughput.png"
set title "Messages per second by message size (median of the repetitions; log scales)"
set xlabel "message size (bytes)"
set ylabel "messages/s"
set logscale xy
set xtics ("8" 8, "64" 64, "256" 256, "1024" 1024, "4000" 4000)
set format y "10^{%L}"
set grid xtics ytics mytics
set key outside right top
set datafile missing "NaN"
set xrange [6:5500]
f = dir."/throughput.dat"
plot f using 1:2  with linespoints lw 2 pt 7 lc rgb "#d62728" title "shmring copy, 1 MiB", \
     f using 1:3  with linespoints lw 2 pt 5 lc rgb "#ff7f0e" title "shmring zero-copy, 1 MiB", \
     f using 1:4  with linespoints lw 2 pt 9 lc rgb "#bcbd22" title "shmring batch, 1 MiB", \
     f using 1:5  with linespoints lw 2 dt 2 pt 6 lc rgb "#000000" title "floor ring, 1 MiB", \
     f using 1:6  with linespoints lw 1 pt 7 lc rgb "#e377c2" title "shmring copy, 4 KiB", \
     f using 1:7  with linespoints lw 1 dt 2 pt 6 lc rgb "#7f7f7f" title "floor ring, 4 KiB", \
     f using 1:8  with linespoints lw 2 pt 13 lc rgb "#1f77b4" title "pipe", \
     f using 1:9  with linespoints lw 2 pt 11 lc rgb "#2ca02c" title "socketpair SEQPACKET", \
     f using 1:10 with linespoints lw 2 pt 15 lc rgb "#9467bd" title "POSIX mq", \
     f using 1:11 with linespoints lw 2 pt 3 lc rgb "#8c564b" title "Boost message_queue" noenhanced

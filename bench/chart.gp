# chart.gp — scripts/bench's chart: throughput per configuration and the
# 1-byte request/response latency of each system.  gnuplot -e "dir='out/bench'" bench/chart.gp
set terminal pngcairo size 1400,1000 font ",10"
set output dir."/chart.png"
set multiplot layout 2,1 title "lwsp benchmarks (median over runs; error bars: min-max)"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set boxwidth 0.8
set grid ytics
set xtics rotate by -30 left font ",8"
set ylabel "Gbit/s"
set title "Bulk TCP throughput over TAP (pump: raw frames) / veth (kernel)"
set yrange [0:*]
plot dir."/throughput.dat" using 2:3:4:xtic(1) title "throughput" lc rgb "#4477aa"
set title "1-byte request/response round trip (MTU 1500)"
set ylabel "microseconds"
set xtics norotate font ",10"
set logscale y
set yrange [1:*]
plot dir."/latency.dat" using 2:3:4:xtic(1) title "median" lc rgb "#228833", \
     "" using 5:6:7 title "p99" lc rgb "#ee6677"
unset multiplot

# chart.gp — scripts/bench's chart: one panel per metric (report.py writes
# chart.dat and chart_titles.txt), lwsp beside each baseline measured in the
# same run. Bars: medians (lwsp's in red); error bars: min-max over the runs; the label on
# lwsp's bar is its value, on a baseline's bar lwsp's ratio to it.
#   gnuplot -e "dir='out/bench'" bench/chart.gp
titles = system("cat '".dir."/chart_titles.txt'")
panels = words(titles) > 0 ? int(system("wc -l < '".dir."/chart_titles.txt'")) : 0
set terminal pngcairo size 1500,1100 font ",9"
set output dir."/chart.png"
set multiplot layout 3,3 title "lwsp and its baselines, same run (bars: median; error bars: min-max; labels: lwsp's value, or lwsp / baseline)"
set style fill solid 0.6 border -1
set boxwidth 0.7
set grid ytics
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0  # room above the tallest bar for its label
set xtics font ",8"
unset key
do for [i = 0:panels - 1] {
    set title system("sed -n '".(i + 1)."p' '".dir."/chart_titles.txt'")
    plot dir."/chart.dat" index i using 0:2:($0 == 0 ? 0xcc6677 : 0x4477aa):xtic(1) with boxes lc rgb variable, \
         "" index i using 0:2:3:4 with yerrorbars lc rgb "black" pt -1, \
         "" index i using 0:4:5 with labels offset 0,0.8 font ",8"
}
unset multiplot

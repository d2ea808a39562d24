# Draws docs/img/latency.png from the data bench/summarize.py writes:
#   gnuplot -e "datafile='latency.dat'; outfile='latency.png'" bench/latency.gp
# One panel per message size; in each, the p50 and p99 RTT of every configuration
# (log scale; a configuration that was n/a has no bars).
if (!exists("datafile")) datafile = 'latency.dat'
if (!exists("outfile")) outfile = 'latency.png'
set terminal pngcairo size 1500,560 font "sans,10"
set output outfile
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics mytics
set ylabel "RTT (µs, log scale)"
set xtics rotate by -35 nomirror
set key top left
set yrange [1:*]
set multiplot layout 1,3 title "demi-echo ping-pong RTT per configuration (bench/run.sh)"
array sizes[3] = ["64 B", "1 KiB", "64 KiB"]
do for [i=1:3] {
    set title sizes[i]." messages"
    plot datafile using 2*i:xtic(1) title "p50" lc rgb "#3b7dd8", \
         '' using 2*i+1 title "p99" lc rgb "#e07b39"
}
unset multiplot

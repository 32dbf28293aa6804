# The study's plots, from the files `scaling` writes into its output
# directory (summary.csv, fit.gp, curves-lm.dat, curves-add.dat):
#
#   gnuplot -e "dir='scaling-out'" examples/scaling/plot.gp
#
# makes DIR/loss_vs_n, DIR/emergence and DIR/learning_curves, each as
# .png and .svg. Needs gnuplot 5 (Debian: gnuplot-nox).
if (!exists("dir")) dir = "scaling-out"
load dir."/fit.gp"
summary = dir."/summary.csv"
lm_curves = dir."/curves-lm.dat"
add_curves = dir."/curves-add.dat"

set datafile separator ","
# the loss axis spans the data (log scale, a little margin)
stats summary using 4 skip 1 nooutput
loss_lo = STATS_min / 1.08
loss_hi = STATS_max * 1.08
set key top right
set grid
set style fill transparent solid 0.2 noborder

# Writes the current plot commands to DIR/name.png and DIR/name.svg:
# each plot is drawn by the macro of the same name, twice.
set macros

loss_vs_n = "\
  set logscale xy; set yrange [loss_lo:loss_hi]; set format x '10^{%T}'; \
  set ytics (1.2, 1.4, 1.6, 1.8, 2, 2.2, 2.4, 2.6, 2.8, 3, 3.5, 4, 5, 6); set mytics 1; \
  set xlabel 'non-embedding parameters N'; set ylabel 'held-out loss (nats per character)'; \
  set title sprintf('Scaling law: L(N) = %.2f N^{-%.3f}  (R^2 %.3f)', fit_a, fit_alpha, fit_r2); \
  set key top right; \
  plot summary using 1:4 skip 1 with points pt 7 ps 1.3 lc rgb '#1f77b4' title 'final held-out loss', \
       fit_a * x**(-fit_alpha) with lines lw 2 lc rgb '#d62728' title sprintf('a N^{-α}, α = %.3f', fit_alpha), \
       off_a * x**(-off_alpha) + off_c with lines lw 1 dt 2 lc rgb '#555555' title sprintf('a N^{-α} + c, α = %.2f, c = %.2f', off_alpha, off_c); \
  unset logscale; set autoscale y; set ytics autofreq; set format x '%g'"

emergence = "\
  set logscale x; set format x '10^{%T}'; set yrange [-0.02:1.32]; set ytics 0, 0.2, 1; \
  set xlabel 'non-embedding parameters N'; set ylabel 'accuracy on held-out problems'; \
  set title '5-digit addition: exact match (median, min-max band over seeds) and per-digit accuracy'; \
  set key top left; \
  plot summary using 1:6:7 skip 1 with filledcurves lc rgb '#1f77b4' title 'exact match, min-max', \
       summary using 1:5 skip 1 with linespoints pt 7 lw 2 lc rgb '#1f77b4' title 'exact match, median', \
       summary using 1:9:10 skip 1 with filledcurves lc rgb '#2ca02c' title 'per-digit accuracy, min-max', \
       summary using 1:8 skip 1 with linespoints pt 5 lw 2 lc rgb '#2ca02c' title 'per-digit accuracy, median', \
       summary using 1:11 skip 1 with linespoints pt 4 dt 2 lc rgb '#ff7f0e' title 'product of the 6 per-position accuracies'; \
  unset logscale; set autoscale y; set ytics autofreq; set format x '%g'"

curves = "\
  set datafile separator whitespace; \
  set multiplot layout 1,2; \
  set xlabel 'step'; set ylabel 'held-out loss (nats per character)'; set key top right font ',8'; \
  set title 'character LM: held-out loss'; \
  plot for [i=0:n_sizes-1] lm_curves index i using 1:2 with lines lw 1.5 title columnheader(2); \
  set yrange [-0.02:1.02]; set ylabel 'exact match (median over seeds)'; set key top left font ',8'; \
  set title 'addition: exact match on held-out problems'; \
  plot for [i=0:n_sizes-1] add_curves index i using 1:2 with linespoints pt 7 ps 0.5 lw 1.5 title columnheader(2); \
  unset multiplot; set autoscale y; set datafile separator ','"

do for [fmt in "png svg"] {
  do for [name in "loss_vs_n emergence learning_curves"] {
    if (fmt eq "png") {
      if (name eq "learning_curves") { set terminal pngcairo size 1100,460 font "sans,10" }
      else { set terminal pngcairo size 760,520 font "sans,10" }
    } else {
      if (name eq "learning_curves") { set terminal svg size 1100,460 font "sans,10" }
      else { set terminal svg size 760,520 font "sans,10" }
    }
    set output dir."/".name.".".fmt
    if (name eq "loss_vs_n") { @loss_vs_n }
    if (name eq "emergence") { @emergence }
    if (name eq "learning_curves") { @curves }
    set output
  }
}

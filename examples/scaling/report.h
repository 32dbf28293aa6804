/* What the study concludes from its rows: per size, the final LM loss and
 * the addition metrics over seeds (median, min, max); the power-law fits;
 * the files the plots are drawn from; and the printed summary. */
#ifndef SCALING_REPORT_H
#define SCALING_REPORT_H

#include "fit.h"
#include "study.h"

#include <stdio.h>

typedef struct sc_size_summary {
    int layers, width;
    int64_t n_params;
    int lm_runs, add_runs;
    double lm_loss;                          /* final held-out loss (mean over runs) */
    double em_median, em_min, em_max;        /* final exact match over seeds */
    double digit_median, digit_min, digit_max;
    double product_median;                   /* of the per-position products */
    double test_loss_median;
} sc_size_summary;

typedef struct sc_study_summary {
    int have_fit, have_offset_fit;
    sc_power_fit fit, offset_fit;
    int first_over_half;                     /* size index, -1: none */
    double product_mean_gap, product_max_gap; /* |exact - product| over all rows */
    int product_rows;
} sc_study_summary;

/* The median of n values (sorted in place); NaN when n = 0. */
double sc_median(double *v, int n);

/* Summarises the rows of each size (sizes[i] = {layers, width}); rows
 * of every step come in, the last step of each run is what counts. */
void sc_summarise(const int (*sizes)[2], int n_sizes, const sc_row *lm, int n_lm,
                  const sc_row *add, int n_add, sc_size_summary *per_size,
                  sc_study_summary *study);
/* summary.csv, fit.gp, curves-lm.dat, curves-add.dat in out_dir. */
int sc_write_plot_data(const char *out_dir, const sc_size_summary *per_size, int n_sizes,
                       const sc_study_summary *study, const sc_row *lm, int n_lm,
                       const sc_row *add, int n_add);
void sc_print_summary(FILE *f, const sc_size_summary *per_size, int n_sizes,
                      const sc_study_summary *study);

#endif

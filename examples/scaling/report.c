#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double sc_median(double *v, int n) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The last row of each run of a size: rows of one run are consecutive
 * and in step order, so a row is final when the next is another run. */
static int is_final(const sc_row *rows, int n, int i) {
    return i + 1 == n || rows[i + 1].seed != rows[i].seed ||
           rows[i + 1].layers != rows[i].layers || rows[i + 1].width != rows[i].width;
}

static int same_size(const sc_row *r, const int size[2]) {
    return r->layers == size[0] && r->width == size[1];
}

void sc_summarise(const int (*sizes)[2], int n_sizes, const sc_row *lm, int n_lm,
                  const sc_row *add, int n_add, sc_size_summary *per_size,
                  sc_study_summary *study) {
    memset(study, 0, sizeof *study);
    study->first_over_half = -1;
    int cap = n_add > 0 ? n_add : 1;
    double *em = malloc((size_t)cap * sizeof *em), *digit = malloc((size_t)cap * sizeof *em);
    double *prod = malloc((size_t)cap * sizeof *em), *loss = malloc((size_t)cap * sizeof *em);
    double *fit_n = malloc((size_t)(n_sizes + 1) * sizeof *fit_n);
    double *fit_l = malloc((size_t)(n_sizes + 1) * sizeof *fit_l);
    int n_fit = 0;
    for (int s = 0; s < n_sizes; s++) {
        sc_size_summary *p = &per_size[s];
        memset(p, 0, sizeof *p);
        p->layers = sizes[s][0];
        p->width = sizes[s][1];
        double lm_sum = 0;
        for (int i = 0; i < n_lm; i++) {
            if (!same_size(&lm[i], sizes[s]) || !is_final(lm, n_lm, i)) continue;
            p->n_params = lm[i].n_params;
            lm_sum += lm[i].val_loss;
            p->lm_runs++;
        }
        p->lm_loss = p->lm_runs ? lm_sum / p->lm_runs : NAN;
        int k = 0;
        for (int i = 0; em && digit && prod && loss && i < n_add; i++) {
            if (!same_size(&add[i], sizes[s]) || !is_final(add, n_add, i)) continue;
            p->n_params = add[i].n_params;
            em[k] = add[i].add.exact;
            digit[k] = add[i].add.digit;
            prod[k] = sc_add_position_product(&add[i].add);
            loss[k] = add[i].val_loss;
            k++;
        }
        p->add_runs = k;
        p->em_median = sc_median(em, k);   /* sorted now: min first, max last */
        p->em_min = k ? em[0] : NAN;
        p->em_max = k ? em[k - 1] : NAN;
        p->digit_median = sc_median(digit, k);
        p->digit_min = k ? digit[0] : NAN;
        p->digit_max = k ? digit[k - 1] : NAN;
        p->product_median = sc_median(prod, k);
        p->test_loss_median = sc_median(loss, k);
        if (k && p->em_median > 0.5 && study->first_over_half < 0) study->first_over_half = s;
        if (p->lm_runs && fit_n && fit_l) {
            fit_n[n_fit] = (double)p->n_params;
            fit_l[n_fit++] = p->lm_loss;
        }
    }
    if (fit_n && fit_l) {
        study->have_fit = sc_fit_power(fit_n, fit_l, n_fit, &study->fit) == 0;
        study->have_offset_fit = sc_fit_power_offset(fit_n, fit_l, n_fit, &study->offset_fit) == 0;
    }
    double gap_sum = 0;
    for (int i = 0; i < n_add; i++) {
        double gap = fabs(add[i].add.exact - sc_add_position_product(&add[i].add));
        gap_sum += gap;
        if (gap > study->product_max_gap) study->product_max_gap = gap;
    }
    study->product_rows = n_add;
    study->product_mean_gap = n_add ? gap_sum / n_add : NAN;
    free(em);
    free(digit);
    free(prod);
    free(loss);
    free(fit_n);
    free(fit_l);
}

static void size_label(const sc_size_summary *p, char *buf, size_t size) {
    if (p->n_params >= 1000000) snprintf(buf, size, "%.1fM (%dx%d)", p->n_params / 1e6, p->layers, p->width);
    else snprintf(buf, size, "%.0fk (%dx%d)", p->n_params / 1e3, p->layers, p->width);
}

/* Blocks for gnuplot's "index": one per size, a header line naming the
 * size, two blank lines between. For addition, each step's median over
 * the seeds. */
static void write_curves(FILE *f, const sc_size_summary *per_size, int n_sizes,
                         const sc_row *rows, int n, int addition) {
    double *em = malloc((size_t)(n > 0 ? n : 1) * sizeof *em);
    double *digit = malloc((size_t)(n > 0 ? n : 1) * sizeof *em);
    double *loss = malloc((size_t)(n > 0 ? n : 1) * sizeof *em);
    if (!em || !digit || !loss) n = 0;
    for (int s = 0; s < n_sizes; s++) {
        char label[64];
        size_label(&per_size[s], label, sizeof label);
        fprintf(f, "%sstep \"%s\" \"%s\" \"%s\"\n", s ? "\n\n" : "", label, label, label);
        /* the steps, in the order of the first run of this size */
        int first = -1;
        for (int i = 0; i < n && first < 0; i++)
            if (rows[i].layers == per_size[s].layers && rows[i].width == per_size[s].width) first = i;
        for (int i = first; first >= 0 && i < n && rows[i].seed == rows[first].seed &&
                            rows[i].layers == rows[first].layers && rows[i].width == rows[first].width;
             i++) {
            int k = 0;
            for (int j = 0; j < n; j++) {
                if (rows[j].layers != per_size[s].layers || rows[j].width != per_size[s].width ||
                    rows[j].step != rows[i].step)
                    continue;
                em[k] = rows[j].add.exact;
                digit[k] = rows[j].add.digit;
                loss[k++] = rows[j].val_loss;
            }
            if (addition)
                fprintf(f, "%ld %.4f %.4f %.5f\n", rows[i].step, sc_median(em, k),
                        sc_median(digit, k), sc_median(loss, k));
            else
                fprintf(f, "%ld %.5f\n", rows[i].step, sc_median(loss, k));
        }
        if (first < 0) fprintf(f, "0 NaN NaN NaN\n");
    }
    free(em);
    free(digit);
    free(loss);
}

/* A gnuplot assignment; gnuplot spells a missing value NaN. */
static void write_number(FILE *f, const char *name, int have, double v) {
    if (have && isfinite(v)) fprintf(f, "%s = %.10g\n", name, v);
    else fprintf(f, "%s = NaN\n", name);
}

static FILE *open_in(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return fopen(path, "w");
}

int sc_write_plot_data(const char *out_dir, const sc_size_summary *per_size, int n_sizes,
                       const sc_study_summary *study, const sc_row *lm, int n_lm,
                       const sc_row *add, int n_add) {
    int rc = 0;
    FILE *f = open_in(out_dir, "summary.csv");
    if (!f) return -1;
    fprintf(f, "n_params,layers,width,lm_val_loss,em_median,em_min,em_max,digit_median,"
               "digit_min,digit_max,position_product_median,test_loss_median\n");
    for (int s = 0; s < n_sizes; s++) {
        const sc_size_summary *p = &per_size[s];
        fprintf(f, "%lld,%d,%d,%.5f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.5f\n",
                (long long)p->n_params, p->layers, p->width, p->lm_loss, p->em_median, p->em_min,
                p->em_max, p->digit_median, p->digit_min, p->digit_max, p->product_median,
                p->test_loss_median);
    }
    if (fclose(f) != 0) rc = -1;
    if (!(f = open_in(out_dir, "fit.gp"))) return -1;
    /* gnuplot reads these with "load" (NaN when there is no fit). */
    const sc_power_fit *p = &study->fit, *o = &study->offset_fit;
    write_number(f, "fit_a", study->have_fit, p->a);
    write_number(f, "fit_alpha", study->have_fit, p->alpha);
    write_number(f, "fit_r2", study->have_fit, p->r2);
    write_number(f, "off_a", study->have_offset_fit, o->a);
    write_number(f, "off_alpha", study->have_offset_fit, o->alpha);
    write_number(f, "off_c", study->have_offset_fit, o->c);
    write_number(f, "off_r2", study->have_offset_fit, o->r2);
    fprintf(f, "n_sizes = %d\n", n_sizes);
    if (fclose(f) != 0) rc = -1;
    if (!(f = open_in(out_dir, "curves-lm.dat"))) return -1;
    write_curves(f, per_size, n_sizes, lm, n_lm, 0);
    if (fclose(f) != 0) rc = -1;
    if (!(f = open_in(out_dir, "curves-add.dat"))) return -1;
    write_curves(f, per_size, n_sizes, add, n_add, 1);
    if (fclose(f) != 0) rc = -1;
    return rc;
}

void sc_print_summary(FILE *f, const sc_size_summary *per_size, int n_sizes,
                      const sc_study_summary *study) {
    fprintf(f, "\n%-16s %9s  %-24s %10s %10s %9s\n", "size (LxW)", "LM loss",
            "exact match med [min-max]", "digit acc", "prod(pos)", "ans loss");
    for (int s = 0; s < n_sizes; s++) {
        const sc_size_summary *p = &per_size[s];
        char label[64], em[64];
        size_label(p, label, sizeof label);
        snprintf(em, sizeof em, "%.2f [%.2f-%.2f] (%d)", p->em_median, p->em_min, p->em_max,
                 p->add_runs);
        fprintf(f, "%-16s %9.4f  %-24s %10.3f %10.3f %9.4f\n", label, p->lm_loss, em,
                p->digit_median, p->product_median, p->test_loss_median);
    }
    if (study->have_fit)
        fprintf(f, "\nscaling law: L(N) = %.3f * N^-%.4f  (alpha = %.4f, R^2 of log L on log N "
                   "= %.4f)\n", study->fit.a, study->fit.alpha, study->fit.alpha, study->fit.r2);
    if (study->have_offset_fit)
        fprintf(f, "with an offset: L(N) = %.3f * N^-%.4f + %.3f  (R^2 = %.4f)\n",
                study->offset_fit.a, study->offset_fit.alpha, study->offset_fit.c,
                study->offset_fit.r2);
    if (study->first_over_half >= 0) {
        char label[64];
        size_label(&per_size[study->first_over_half], label, sizeof label);
        fprintf(f, "smallest size whose median exact match passes 50%%: %s\n", label);
    } else {
        fprintf(f, "no size's median exact match passes 50%%\n");
    }
    if (study->product_rows > 0) {
        fprintf(f, "exact match vs the product of the six per-position accuracies, over all %d "
                   "evaluations: mean |difference| %.3f, largest %.3f.\n",
                study->product_rows, study->product_mean_gap, study->product_max_gap);
        /* Only say it tracks when the numbers say so. */
        if (study->product_mean_gap < 0.02)
            fprintf(f, "Exact match tracks that product: it needs all six digits right at once, "
                       "so smooth gains in each position multiply into what looks like one "
                       "jump.\n");
        else
            fprintf(f, "Exact match does NOT track that product closely here: the positions' "
                       "errors are not independent.\n");
    }
}

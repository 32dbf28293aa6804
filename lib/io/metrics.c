/* Classification and regression metrics.
 *
 * Classification: pred and target are integer tensors (i32, i64 or u8, not
 * necessarily the same one) of one shape, holding class indices. The
 * precision/recall/F1 family follows scikit-learn's
 * precision_recall_fscore_support(labels=range(num_classes),
 * zero_division=0): every class 0..C-1 counts in the macro average, even
 * one that appears in neither tensor; a zero denominator gives 0. F1 is
 * 2 tp / (2 tp + fp + fn).
 *
 * Regression: two tensors of one shape and any numeric dtype, over all
 * their elements (flattened). R^2 follows sklearn.metrics.r2_score with
 * force_finite=True: when the target is constant, 1.0 for perfect
 * predictions and 0.0 otherwise; with fewer than two samples it is NaN
 * (sklearn warns and returns nan). */
#include "io_internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* Shared checks                                                     */
/* ---------------------------------------------------------------- */

static bool is_label_dtype(dc_dtype d) { return d == DC_I32 || d == DC_I64 || d == DC_U8; }

static dc_status check_pair(const dc_tensor *pred, const dc_tensor *target, const char *func,
                            bool labels) {
    DC_CHECK_TENSOR_OR_STATUS(pred, func, "pred");
    DC_CHECK_TENSOR_OR_STATUS(target, func, "target");
    for (int k = 0; k < 2; k++) {
        const dc_tensor *t = k ? target : pred;
        bool ok = labels ? is_label_dtype(t->dtype) : t->dtype != DC_BOOL;
        if (!ok)
            return dc__fail(DC_E_DTYPE, "%s: %s has dtype %s; %s", func, k ? "target" : "pred",
                            dc_dtype_name(t->dtype),
                            labels ? "class indices must be i32, i64 or u8"
                                   : "values must be numeric, not bool");
    }
    if (pred->ndim != target->ndim ||
        memcmp(pred->shape, target->shape, (size_t)pred->ndim * sizeof *pred->shape) != 0)
        return dc__fail(DC_E_SHAPE, "%s: pred and target have different shapes", func);
    return DC_OK;
}

/* A contiguous copy of t converted to dtype, owned by the caller. */
static dc_tensor *as_dtype(const dc_tensor *t, dc_dtype dtype) {
    dc_tensor *c = dc__tensor_new(dtype, t->ndim, t->shape, false);
    if (c) dc__copy_elements(c, t);
    return c;
}

/* ---------------------------------------------------------------- */
/* Classification                                                    */
/* ---------------------------------------------------------------- */

dc_status dc_metric_accuracy(const dc_tensor *pred, const dc_tensor *target, double *out) {
    const char *func = "dc_metric_accuracy";
    dc_status st = check_pair(pred, target, func, true);
    if (st != DC_OK) return st;
    if (!out) return dc__fail(DC_E_INVALID, "%s: 'out' is NULL", func);
    if (pred->numel == 0) return dc__fail(DC_E_SHAPE, "%s: no samples", func);
    dc_tensor *pt = as_dtype(pred, DC_I64);
    dc_tensor *tt = pt ? as_dtype(target, DC_I64) : NULL;
    if (!tt) {
        dc_release(pt);
        return dc_last_status();
    }
    const int64_t *p = dc__tensor_data(pt), *t = dc__tensor_data(tt);
    int64_t hits = 0;
    for (int64_t i = 0; i < pred->numel; i++) hits += p[i] == t[i];
    *out = (double)hits / (double)pred->numel;
    dc_release(pt);
    dc_release(tt);
    return DC_OK;
}

/* The (C, C) counts into cm (zeroed by the caller); labels outside
 * 0..C-1 are DC_E_RANGE. */
static dc_status count_confusion(const dc_tensor *pred, const dc_tensor *target, int64_t C,
                                 int64_t *cm, const char *func) {
    dc_tensor *pt = as_dtype(pred, DC_I64);
    dc_tensor *tt = pt ? as_dtype(target, DC_I64) : NULL;
    if (!tt) {
        dc_release(pt);
        return dc_last_status();
    }
    const int64_t *p = dc__tensor_data(pt), *t = dc__tensor_data(tt);
    dc_status st = DC_OK;
    for (int64_t i = 0; i < pred->numel && st == DC_OK; i++) {
        if (p[i] < 0 || p[i] >= C || t[i] < 0 || t[i] >= C) {
            bool bad_pred = p[i] < 0 || p[i] >= C;
            st = dc__fail(DC_E_RANGE, "%s: %s label %lld (element %lld) is outside 0..%lld",
                          func, bad_pred ? "predicted" : "true",
                          (long long)(bad_pred ? p[i] : t[i]), (long long)i,
                          (long long)(C - 1));
            break;
        }
        cm[t[i] * C + p[i]]++;
    }
    dc_release(pt);
    dc_release(tt);
    return st;
}

static dc_status check_classes(int64_t C, const char *func) {
    if (C < 1)
        return dc__fail(DC_E_INVALID, "%s: num_classes %lld is not positive", func,
                        (long long)C);
    return DC_OK;
}

/* A new (C, C) i64 tensor of counts, owned by the caller. */
static dc_tensor *confusion(const dc_tensor *pred, const dc_tensor *target, int64_t C,
                            const char *func) {
    if (check_pair(pred, target, func, true) != DC_OK) return NULL;
    if (check_classes(C, func) != DC_OK) return NULL;
    int64_t shape[2] = {C, C};
    dc_tensor *cm = dc__tensor_new_for(func, DC_I64, 2, shape, true);
    if (!cm) return NULL;
    if (count_confusion(pred, target, C, dc__tensor_data(cm), func) != DC_OK) {
        dc_release(cm);
        return NULL;
    }
    return cm;
}

dc_tensor *dc_confusion_matrix(const dc_tensor *pred, const dc_tensor *target,
                               int64_t num_classes) {
    return dc__publish(confusion(pred, target, num_classes, "dc_confusion_matrix"));
}

/* Per-class counts read off the confusion matrix. */
typedef struct class_counts {
    int64_t *tp, *fp, *fn;   /* fn + tp: support; fp + tp: predicted */
} class_counts;

static dc_status gather_counts(const dc_tensor *pred, const dc_tensor *target, int64_t C,
                               const char *func, class_counts *cc) {
    dc_tensor *cm = confusion(pred, target, C, func);
    if (!cm) return dc__failure_status();
    int64_t *buf = dc__calloc((size_t)C, 3 * sizeof *buf);
    if (!buf) {
        dc_release(cm);
        return DC_E_NOMEM;
    }
    cc->tp = buf;
    cc->fp = buf + C;
    cc->fn = buf + 2 * C;
    const int64_t *m = dc__tensor_data(cm);
    for (int64_t t = 0; t < C; t++)
        for (int64_t p = 0; p < C; p++) {
            int64_t v = m[t * C + p];
            if (t == p) cc->tp[t] += v;
            else {
                cc->fn[t] += v;
                cc->fp[p] += v;
            }
        }
    dc_release(cm);
    return DC_OK;
}

static double ratio0(double num, double den) { return den > 0 ? num / den : 0.0; }

static void class_scores(int64_t tp, int64_t fp, int64_t fn, double *p, double *r, double *f) {
    *p = ratio0((double)tp, (double)(tp + fp));
    *r = ratio0((double)tp, (double)(tp + fn));
    *f = ratio0(2.0 * (double)tp, (double)(2 * tp + fp + fn));
}

dc_status dc_metric_per_class(const dc_tensor *pred, const dc_tensor *target,
                              int64_t num_classes, double *precision, double *recall,
                              double *f1) {
    class_counts cc;
    dc_status st = gather_counts(pred, target, num_classes, "dc_metric_per_class", &cc);
    if (st != DC_OK) return st;
    for (int64_t c = 0; c < num_classes; c++) {
        double p, r, f;
        class_scores(cc.tp[c], cc.fp[c], cc.fn[c], &p, &r, &f);
        if (precision) precision[c] = p;
        if (recall) recall[c] = r;
        if (f1) f1[c] = f;
    }
    dc__free(cc.tp);
    return DC_OK;
}

dc_status dc_metric_prf(const dc_tensor *pred, const dc_tensor *target, int64_t num_classes,
                        dc_average average, double *precision, double *recall, double *f1) {
    const char *func = "dc_metric_prf";
    if (average != DC_AVERAGE_MACRO && average != DC_AVERAGE_MICRO &&
        average != DC_AVERAGE_WEIGHTED)
        return dc__fail(DC_E_INVALID, "%s: unknown average %d", func, (int)average);
    class_counts cc;
    dc_status st = gather_counts(pred, target, num_classes, func, &cc);
    if (st != DC_OK) return st;
    double P = 0, R = 0, F = 0;
    if (average == DC_AVERAGE_MICRO) {
        int64_t tp = 0, fp = 0, fn = 0;
        for (int64_t c = 0; c < num_classes; c++) {
            tp += cc.tp[c];
            fp += cc.fp[c];
            fn += cc.fn[c];
        }
        class_scores(tp, fp, fn, &P, &R, &F);
    } else {
        double total = 0;
        for (int64_t c = 0; c < num_classes; c++) {
            double p, r, f;
            class_scores(cc.tp[c], cc.fp[c], cc.fn[c], &p, &r, &f);
            double w = average == DC_AVERAGE_MACRO ? 1.0 : (double)(cc.tp[c] + cc.fn[c]);
            P += w * p;
            R += w * r;
            F += w * f;
            total += w;
        }
        /* weighted with no true sample at all: sklearn gives zero_division (0) */
        P = ratio0(P, total);
        R = ratio0(R, total);
        F = ratio0(F, total);
    }
    dc__free(cc.tp);
    if (precision) *precision = P;
    if (recall) *recall = R;
    if (f1) *f1 = F;
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* Regression                                                        */
/* ---------------------------------------------------------------- */

typedef enum reg_metric { REG_MSE, REG_MAE, REG_R2 } reg_metric;

static double r2_of(const double *p, const double *t, int64_t n) {
    if (n < 2) return NAN;
    double mean = 0;
    for (int64_t i = 0; i < n; i++) mean += t[i];
    mean /= (double)n;
    double ss_res = 0, ss_tot = 0;
    for (int64_t i = 0; i < n; i++) {
        ss_res += (t[i] - p[i]) * (t[i] - p[i]);
        ss_tot += (t[i] - mean) * (t[i] - mean);
    }
    if (ss_tot == 0) return ss_res == 0 ? 1.0 : 0.0;
    return 1.0 - ss_res / ss_tot;
}

static dc_status regression(const dc_tensor *pred, const dc_tensor *target, double *out,
                            reg_metric metric, const char *func) {
    dc_status st = check_pair(pred, target, func, false);
    if (st != DC_OK) return st;
    if (!out) return dc__fail(DC_E_INVALID, "%s: 'out' is NULL", func);
    int64_t n = pred->numel;
    if (n == 0) return dc__fail(DC_E_SHAPE, "%s: no samples", func);
    dc_tensor *pt = as_dtype(pred, DC_F64);
    dc_tensor *tt = pt ? as_dtype(target, DC_F64) : NULL;
    if (!tt) {
        dc_release(pt);
        return dc_last_status();
    }
    const double *p = dc__tensor_data(pt), *t = dc__tensor_data(tt);
    double acc = 0;
    if (metric == REG_R2) {
        acc = r2_of(p, t, n);
    } else {
        for (int64_t i = 0; i < n; i++) {
            double d = p[i] - t[i];
            acc += metric == REG_MSE ? d * d : fabs(d);
        }
        acc /= (double)n;
    }
    dc_release(pt);
    dc_release(tt);
    *out = acc;
    return DC_OK;
}

dc_status dc_metric_mse(const dc_tensor *pred, const dc_tensor *target, double *out) {
    return regression(pred, target, out, REG_MSE, "dc_metric_mse");
}

dc_status dc_metric_mae(const dc_tensor *pred, const dc_tensor *target, double *out) {
    return regression(pred, target, out, REG_MAE, "dc_metric_mae");
}

dc_status dc_metric_r2(const dc_tensor *pred, const dc_tensor *target, double *out) {
    return regression(pred, target, out, REG_R2, "dc_metric_r2");
}

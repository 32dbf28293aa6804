/*
 * libdeepcore — weights and checkpoints (safetensors), dataset readers
 * (IDX, CSV), batching, preprocessing and metrics.
 * Included by deepcore/deepcore.h; do not include it on its own.
 */
#ifndef DEEPCORE_DATA_H
#define DEEPCORE_DATA_H

#ifndef DEEPCORE_DEEPCORE_H
#error "include <deepcore/deepcore.h>, not <deepcore/data.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* safetensors                                                         */
/* ------------------------------------------------------------------ */

/* A parsed safetensors file or buffer (8-byte little-endian header length,
 * JSON header of dtype, shape and data_offsets, optional __metadata__).
 * Malformed or hostile input is DC_E_FORMAT, never a crash; I/O failures
 * are DC_E_IO. F16 and BF16 tensors are converted to f32; F32, F64, I32,
 * I64, U8 and BOOL are read as such. */
typedef struct dc_safetensors dc_safetensors;

DC_API dc_safetensors *dc_safetensors_open(const char *path);
/* Copies the buffer; the caller may free it afterwards. */
DC_API dc_safetensors *dc_safetensors_from_buffer(const void *data,
                                                  size_t size);
DC_API void dc_safetensors_close(dc_safetensors *st);     /* NULL: no-op */
DC_API int64_t dc_safetensors_count(const dc_safetensors *st);
DC_API const char *dc_safetensors_name(const dc_safetensors *st, int64_t i);
/* A new tensor with the named entry's data; NULL and DC_E_RANGE when the
 * name is not in the file. */
DC_API dc_tensor *dc_safetensors_get(const dc_safetensors *st,
                                     const char *name);
/* The value of a __metadata__ key, or NULL. */
DC_API const char *dc_safetensors_metadata(const dc_safetensors *st,
                                           const char *key);

/* Writes n named tensors (names unique, UTF-8, no control characters) and
 * optional metadata (n_meta key/value string pairs) to path. The file is
 * written to a temporary name in the same directory and renamed, so a
 * failure never destroys an earlier file of that name. */
DC_API dc_status dc_safetensors_save(const char *path,
                                     const char *const *names,
                                     dc_tensor *const *tensors, int64_t n,
                                     const char *const *meta_keys,
                                     const char *const *meta_values,
                                     int64_t n_meta);

/* A module's state dict (parameters and buffers by their PyTorch names). */
DC_API dc_status dc_module_save(dc_module *m, const char *path);
/* strict: every state entry must be in the file and nothing else; the
 * first missing, unexpected or mis-shaped name is in the message. Not
 * strict: loads the names that match and ignores the rest (mis-shaped
 * entries are still an error). Nothing is changed when loading fails. */
DC_API dc_status dc_module_load(dc_module *m, const char *path, int strict);
DC_API dc_status dc_module_load_buffer(dc_module *m, const void *data,
                                       size_t size, int strict);

/* A training checkpoint in one safetensors file: the module ("model."),
 * the optimizer state ("optim."), the schedule position, a generator's
 * state and the step number (metadata). opt, sched and rng may be NULL.
 * Loading into the same objects resumes training bit for bit. */
DC_API dc_status dc_checkpoint_save(const char *path, dc_module *m,
                                    dc_optim *opt, dc_sched *sched,
                                    dc_rng *rng, int64_t step);
DC_API dc_status dc_checkpoint_load(const char *path, dc_module *m,
                                    dc_optim *opt, dc_sched *sched,
                                    dc_rng *rng, int64_t *step);

/* ------------------------------------------------------------------ */
/* Dataset readers                                                     */
/* ------------------------------------------------------------------ */

/* An IDX file (the MNIST format), gzip-compressed or not (detected).
 * Element types: u8 -> DC_U8, i8/i16/i32 -> DC_I32, f32, f64. A header
 * that claims more data than the file holds, or more than max_bytes
 * (0: 4 GiB), is DC_E_FORMAT before anything large is allocated. */
DC_API dc_tensor *dc_idx_load(const char *path, size_t max_bytes);
/* Numeric CSV: header_rows lines skipped, then rows of equal length,
 * separated by commas, parsed as numbers into a (rows, columns) tensor of
 * dtype. An empty field or text that is not a number is DC_E_FORMAT with
 * its line and column. */
DC_API dc_tensor *dc_csv_load(const char *path, int header_rows,
                              dc_dtype dtype);

/* ------------------------------------------------------------------ */
/* Batching                                                            */
/* ------------------------------------------------------------------ */

/* Batches over axis 0 of x and (optionally) y, reshuffled each epoch from
 * seed when shuffle is set. Keeps references to x and y. */
typedef struct dc_loader dc_loader;

DC_API dc_loader *dc_loader_new(dc_tensor *x, dc_tensor *y,
                                int64_t batch_size, int shuffle,
                                int drop_last, uint64_t seed);
DC_API void dc_loader_release(dc_loader *l);              /* NULL: no-op */
DC_API int64_t dc_loader_num_batches(const dc_loader *l);
/* Starts the next epoch (a new order when shuffling). */
DC_API dc_status dc_loader_reset(dc_loader *l);
/* Stores the next batch (contiguous copies) in *xb and *yb (yb may be
 * NULL) and returns 1; returns 0 at the end of the epoch, -1 on error. */
DC_API int dc_loader_next(dc_loader *l, dc_tensor **xb, dc_tensor **yb);

/* ------------------------------------------------------------------ */
/* Preprocessing                                                       */
/* ------------------------------------------------------------------ */

/* Per-feature (axis 1 of (N, F), or per element of a sample's shape)
 * statistics fitted on a training split and applied to others. */
typedef struct dc_scaler dc_scaler;

/* Min-max to [lo, hi] (a constant feature maps to lo). */
DC_API dc_scaler *dc_scaler_minmax_new(double lo, double hi);
/* (x - mean) / std, population std; a constant feature maps to 0. */
DC_API dc_scaler *dc_scaler_standard_new(void);
DC_API void dc_scaler_release(dc_scaler *s);             /* NULL: no-op */
DC_API dc_status dc_scaler_fit(dc_scaler *s, const dc_tensor *x);
DC_API dc_tensor *dc_scaler_transform(const dc_scaler *s, dc_tensor *x);

/* labels (any shape, integer) -> labels.shape + (num_classes) of dtype. */
DC_API dc_tensor *dc_one_hot(const dc_tensor *labels, int64_t num_classes,
                             dc_dtype dtype);

/* ------------------------------------------------------------------ */
/* Metrics                                                             */
/* ------------------------------------------------------------------ */

/* Classification metrics take predicted and true class indices (integer
 * tensors of one shape) and the number of classes. */
DC_API dc_status dc_metric_accuracy(const dc_tensor *pred,
                                    const dc_tensor *target, double *out);
/* (C, C) i64 counts: row = true class, column = predicted class. */
DC_API dc_tensor *dc_confusion_matrix(const dc_tensor *pred,
                                      const dc_tensor *target,
                                      int64_t num_classes);

typedef enum dc_average {
    DC_AVERAGE_MACRO = 0,     /* mean over classes */
    DC_AVERAGE_MICRO = 1,     /* from pooled counts */
    DC_AVERAGE_WEIGHTED = 2   /* mean weighted by class support */
} dc_average;

/* Per class: precision, recall and f1 arrays of num_classes entries (any
 * may be NULL). A class with no predicted (or no true) sample gets 0, as
 * scikit-learn's zero_division=0. */
DC_API dc_status dc_metric_per_class(const dc_tensor *pred,
                                     const dc_tensor *target,
                                     int64_t num_classes, double *precision,
                                     double *recall, double *f1);
DC_API dc_status dc_metric_prf(const dc_tensor *pred, const dc_tensor *target,
                               int64_t num_classes, dc_average average,
                               double *precision, double *recall,
                               double *f1);
/* Regression metrics over all elements of two same-shaped tensors. */
DC_API dc_status dc_metric_mse(const dc_tensor *pred, const dc_tensor *target,
                               double *out);
DC_API dc_status dc_metric_mae(const dc_tensor *pred, const dc_tensor *target,
                               double *out);
DC_API dc_status dc_metric_r2(const dc_tensor *pred, const dc_tensor *target,
                              double *out);

#ifdef __cplusplus
}
#endif

#endif /* DEEPCORE_DATA_H */

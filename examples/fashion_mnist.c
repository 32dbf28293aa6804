/*
 * fashion_mnist: train an MLP (784-256-256-10, ReLU) or LeNet-5 on
 * Fashion-MNIST, report test accuracy and macro precision / recall / F1
 * after every epoch, and keep a checkpoint to resume from.
 *
 *   ./build/examples/fashion_mnist [--model mlp|cnn] [--epochs N]
 *       [--batch N] [--lr X] [--seed S] [--threads N] [--limit N]
 *       [--no-standardize] [--data DIR] [--checkpoint PATH] [--resume PATH]
 *       [--min-accuracy X]
 *
 * The data are the four IDX files of the Debian package
 * dataset-fashion-mnist (/usr/share/datasets/fashion-mnist; gzip or not),
 * read with dc_idx_load. Pixels are scaled to [0, 1], then standardised
 * per pixel with a dc_scaler fitted on the training split (the test split
 * gets the training statistics); --no-standardize keeps plain [0, 1]
 * pixels. Standardising is worth about 0.7 points of accuracy to the MLP
 * and 1.7 to the CNN after 3 epochs (see examples/README.md).
 * Training is Adam (lr 1e-3) on mini-batches of 128 (64 for the CNN,
 * which needs the extra updates to pass 88% in 3 epochs), reshuffled
 * every epoch. A checkpoint (model, optimizer, generator, epoch) is written
 * after each epoch; --resume PATH continues from one up to --epochs.
 *
 * Exit status: 0 when the final test accuracy reaches the target (86% for
 * the MLP, 88% for the CNN on a full run of at least 3 epochs; 50% for
 * shorter or --limit runs; --min-accuracy sets it), 2 when it does not,
 * 1 on an error, 77 (the "skipped" status of test harnesses) when the
 * dataset is not installed.
 */
#include <deepcore/deepcore.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_CLASSES 10
#define EVAL_BATCH 1000
#define EXIT_SKIP 77

static const char *const class_names[N_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

typedef struct options {
    int cnn;
    int epochs;
    int64_t batch;
    double lr;
    unsigned long long seed;
    int threads;
    int64_t limit;          /* 0: all training images */
    int standardize;
    const char *data_dir;
    const char *checkpoint;
    const char *resume;
    double min_accuracy;    /* < 0: the default for the run */
} options;

/* Everything main() owns, released in one place. */
typedef struct run {
    dc_tensor *x_train, *y_train, *x_test, *y_test;
    dc_module *model;
    dc_tensor *params[16];
    int64_t n_params;
    dc_optim *opt;
    dc_loss *loss_fn;
    dc_loader *loader;
    dc_rng *rng;
} run;

static int fail(const char *what) {
    fprintf(stderr, "fashion_mnist: %s failed: %s (%s)\n", what, dc_last_error(),
            dc_status_str(dc_last_status()));
    return 1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void usage(void) {
    fprintf(stderr,
            "usage: fashion_mnist [options]\n"
            "  --model mlp|cnn     784-256-256-10 MLP (default) or LeNet-5\n"
            "  --epochs N          epochs in all (default 3)\n"
            "  --batch N           mini-batch size (default 128 for the MLP, 64 for the CNN)\n"
            "  --lr X              Adam learning rate (default 0.001)\n"
            "  --seed S            initial weights and shuffling (default 1)\n"
            "  --threads N         library threads, 0 = one per core (default 0)\n"
            "  --limit N           train on the first N images only\n"
            "  --no-standardize    keep pixels in [0, 1] (default: standardised per pixel)\n"
            "  --data DIR          the IDX files (default /usr/share/datasets/fashion-mnist)\n"
            "  --checkpoint PATH   written after every epoch (default fashion_mnist-MODEL.ckpt)\n"
            "  --resume PATH       continue from a checkpoint\n"
            "  --min-accuracy X    exit 2 below this final test accuracy (0..1)\n");
}

static int parse_number(const char *v, double *out) {
    char *end = NULL;
    *out = strtod(v, &end);
    return end != v && *end == '\0';
}

static int parse_options(int argc, char **argv, options *o) {
    *o = (options){.epochs = 3, .batch = 0, .lr = 1e-3, .seed = 1, .standardize = 1,
                   .data_dir = "/usr/share/datasets/fashion-mnist", .min_accuracy = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--no-standardize") || !strcmp(a, "--standardize")) {
            o->standardize = !strcmp(a, "--standardize");
            continue;
        }
        if (i + 1 >= argc) goto bad;
        const char *v = argv[++i];
        double num = 0;
        int numeric = parse_number(v, &num);
        if (!strcmp(a, "--model")) {
            if (strcmp(v, "mlp") && strcmp(v, "cnn")) goto bad;
            o->cnn = !strcmp(v, "cnn");
        } else if (!strcmp(a, "--data")) o->data_dir = v;
        else if (!strcmp(a, "--checkpoint")) o->checkpoint = v;
        else if (!strcmp(a, "--resume")) o->resume = v;
        else if (!numeric) goto bad;
        else if (!strcmp(a, "--epochs") && num >= 1) o->epochs = (int)num;
        else if (!strcmp(a, "--batch") && num >= 1) o->batch = (int64_t)num;
        else if (!strcmp(a, "--lr") && num > 0) o->lr = num;
        else if (!strcmp(a, "--seed") && num >= 0) o->seed = (unsigned long long)num;
        else if (!strcmp(a, "--threads") && num >= 0) o->threads = (int)num;
        else if (!strcmp(a, "--limit") && num >= 1) o->limit = (int64_t)num;
        else if (!strcmp(a, "--min-accuracy") && num >= 0 && num <= 1) o->min_accuracy = num;
        else goto bad;
    }
    if (o->batch == 0) o->batch = o->cnn ? 64 : 128;
    if (!o->checkpoint) o->checkpoint = o->cnn ? "fashion_mnist-cnn.ckpt" : "fashion_mnist-mlp.ckpt";
    if (o->min_accuracy < 0)
        o->min_accuracy = (o->limit == 0 && o->epochs >= 3) ? (o->cnn ? 0.88 : 0.86) : 0.5;
    return 0;
bad:
    usage();
    return -1;
}

/* ------------------------------------------------------------------ */
/* Data                                                                */
/* ------------------------------------------------------------------ */

/* dir/name, or dir/name.gz when only the compressed file is there; NULL
 * when neither exists. */
static char *find_file(const char *dir, const char *name) {
    size_t len = strlen(dir) + strlen(name) + 8;
    char *path = malloc(len);
    if (!path) return NULL;
    snprintf(path, len, "%s/%s", dir, name);
    if (access(path, R_OK) == 0) return path;
    snprintf(path, len, "%s/%s.gz", dir, name);
    if (access(path, R_OK) == 0) return path;
    free(path);
    return NULL;
}

/* Images as f32 in [0, 1], shaped (N, 784) for the MLP or (N, 1, 28, 28)
 * for the CNN, keeping the first `limit` (0: all); labels as (N) i64. */
static dc_status load_split(const char *dir, const char *prefix, int cnn, int64_t limit,
                            dc_tensor **x, dc_tensor **y) {
    char images_name[64], labels_name[64];
    snprintf(images_name, sizeof images_name, "%s-images-idx3-ubyte", prefix);
    snprintf(labels_name, sizeof labels_name, "%s-labels-idx1-ubyte", prefix);
    char *images_path = find_file(dir, images_name);
    char *labels_path = find_file(dir, labels_name);
    if (!images_path || !labels_path) {
        fprintf(stderr, "fashion_mnist: %s/%s(.gz) is missing\n", dir,
                images_path ? labels_name : images_name);
        free(images_path);
        free(labels_path);
        return DC_E_IO;
    }
    dc_status st = DC_OK;
    dc_scope *s = dc_scope_begin();
    dc_tensor *images = dc_idx_load(images_path, 0);
    dc_tensor *labels = images ? dc_idx_load(labels_path, 0) : NULL;
    if (!images || !labels) {
        st = dc_last_status();
        goto done;
    }
    int64_t n = dc_size(images, 0);
    if (limit > 0 && limit < n) n = limit;
    int64_t shape_mlp[2] = {n, 28 * 28}, shape_cnn[4] = {n, 1, 28, 28};
    dc_tensor *pixels = dc_mul_scalar(dc_cast(dc_narrow(images, 0, 0, n), DC_F32), 1.0 / 255);
    *x = dc_retain(cnn ? dc_reshape(pixels, 4, shape_cnn) : dc_reshape(pixels, 2, shape_mlp));
    *y = dc_retain(dc_cast(dc_narrow(labels, 0, 0, n), DC_I64));
    if (!*x || !*y) {
        st = dc_last_status();
        dc_release(*x);
        dc_release(*y);
        *x = *y = NULL;
    }
done:
    dc_scope_end(s);
    free(images_path);
    free(labels_path);
    return st;
}

/* Fits a standard scaler on the training pixels and applies it to both
 * splits (per pixel: each of the 784 positions has its own mean and std). */
static dc_status standardize(run *r) {
    dc_scaler *scaler = dc_scaler_standard_new();
    dc_status st = scaler ? dc_scaler_fit(scaler, r->x_train) : dc_last_status();
    dc_scope *s = dc_scope_begin();
    dc_tensor *train = st == DC_OK ? dc_scaler_transform(scaler, r->x_train) : NULL;
    dc_tensor *test = train ? dc_scaler_transform(scaler, r->x_test) : NULL;
    if (test) {
        dc_release(r->x_train);
        dc_release(r->x_test);
        r->x_train = dc_retain(train);
        r->x_test = dc_retain(test);
    } else if (st == DC_OK) {
        st = dc_last_status();
    }
    dc_scope_end(s);
    dc_scaler_release(scaler);
    return st;
}

/* ------------------------------------------------------------------ */
/* Model and evaluation                                                */
/* ------------------------------------------------------------------ */

static dc_status build(run *r, const options *o) {
    static const int64_t sizes[] = {784, 256, 256, N_CLASSES};
    r->model = o->cnn ? dc_zoo_lenet5_new(1, N_CLASSES, r->rng)
                      : dc_zoo_mlp_new(sizes, 4, DC_ACT_RELU, 0.0, r->rng);
    if (!r->model) return dc_last_status();
    r->n_params = dc_module_param_count(r->model);
    if (r->n_params < 1 || r->n_params > 16) return DC_E_INTERNAL;
    for (int64_t i = 0; i < r->n_params; i++)
        if (!(r->params[i] = dc_module_param(r->model, i))) return dc_last_status();
    r->opt = dc_adam_new(r->params, (int)r->n_params, o->lr, 0.9, 0.999, 1e-8, 0, 0);
    r->loss_fn = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    r->loader = dc_loader_new(r->x_train, r->y_train, o->batch, 1, 0, o->seed);
    return r->opt && r->loss_fn && r->loader ? DC_OK : dc_last_status();
}

typedef struct scores {
    double accuracy, precision, recall, f1;
    double per_class_f1[N_CLASSES];
} scores;

/* Predicts the test split in batches (eval mode, no recording) and scores
 * the predictions. */
static dc_status evaluate(run *r, scores *out) {
    int64_t n = dc_size(r->x_test, 0);
    int64_t *pred = malloc((size_t)n * sizeof *pred);
    if (!pred) return DC_E_NOMEM;
    dc_status st = DC_OK;
    dc_module_set_training(r->model, 0);
    int prev = dc_set_grad_enabled(0);
    for (int64_t start = 0; start < n && st == DC_OK; start += EVAL_BATCH) {
        int64_t len = n - start < EVAL_BATCH ? n - start : EVAL_BATCH;
        dc_scope *s = dc_scope_begin();
        dc_tensor *logits = dc_module_forward(r->model, dc_narrow(r->x_test, 0, start, len));
        dc_tensor *p = dc_argmax(logits, 1, 0);
        st = p ? dc_copy_to(p, DC_I64, pred + start, (size_t)len * sizeof *pred)
               : dc_last_status();
        dc_scope_end(s);
    }
    dc_set_grad_enabled(prev);
    dc_module_set_training(r->model, 1);
    dc_scope *s = dc_scope_begin();
    dc_tensor *p = st == DC_OK ? dc_from_data(DC_I64, 1, &n, pred) : NULL;
    if (st == DC_OK) st = dc_metric_accuracy(p, r->y_test, &out->accuracy);
    if (st == DC_OK)
        st = dc_metric_prf(p, r->y_test, N_CLASSES, DC_AVERAGE_MACRO, &out->precision,
                           &out->recall, &out->f1);
    if (st == DC_OK)
        st = dc_metric_per_class(p, r->y_test, N_CLASSES, NULL, NULL, out->per_class_f1);
    dc_scope_end(s);
    free(pred);
    return st;
}

/* ------------------------------------------------------------------ */
/* Progress                                                            */
/* ------------------------------------------------------------------ */

/* One line per epoch: redrawn in place on a terminal; on a pipe or file,
 * printed at every quarter of the epoch instead. */
static void show_progress(int epoch, int epochs, int64_t done, int64_t total, double elapsed,
                          double mean_loss, int tty) {
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    if (tty) {
        char bar[31];
        int filled = (int)(30 * done / total);
        for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        /* trailing blanks wipe what a longer previous line left */
        printf("\repoch %d/%d [%s] %lld/%lld  %.1f steps/s  loss %.4f  ETA %.0fs    ", epoch,
               epochs, bar, (long long)done, (long long)total, rate, mean_loss, eta);
        fflush(stdout);
        return;
    }
    int64_t quarter = total / 4 > 0 ? total / 4 : 1;
    if (done % quarter == 0 || done == total)
        printf("epoch %d/%d  step %lld/%lld  %.1f steps/s  loss %.4f  ETA %.0fs\n", epoch, epochs,
               (long long)done, (long long)total, rate, mean_loss, eta);
}

/* One pass over the training data; the mean loss goes to *mean_loss. */
static dc_status train_epoch(run *r, int epoch, int epochs, int tty, double *mean_loss) {
    int64_t total = dc_loader_num_batches(r->loader), done = 0;
    double sum = 0, start = now_seconds(), last_draw = 0;
    dc_status st = dc_loader_reset(r->loader);
    while (st == DC_OK) {
        dc_scope *step = dc_scope_begin();
        dc_tensor *xb, *yb;
        int more = dc_loader_next(r->loader, &xb, &yb);
        if (more != 1) {
            if (more < 0) st = dc_last_status();
            dc_scope_end(step);
            break;
        }
        dc_tensor *loss = dc_loss_forward(r->loss_fn, dc_module_forward(r->model, xb), yb);
        double value = 0;
        if (!loss || dc_item(loss, &value) != DC_OK || dc_optim_zero_grad(r->opt) != DC_OK ||
            dc_backward(loss, NULL, 0) != DC_OK || dc_optim_step(r->opt) != DC_OK)
            st = dc_last_status();
        dc_scope_end(step);
        sum += value;
        done++;
        double t = now_seconds();
        if (!tty || t - last_draw > 0.2 || done == total) {
            show_progress(epoch, epochs, done, total, t - start, sum / (double)done, tty);
            last_draw = t;
        }
    }
    if (tty) printf("\n");
    *mean_loss = done ? sum / (double)done : NAN;
    return st;
}

static void release_run(run *r) {
    for (int64_t i = 0; i < r->n_params; i++) dc_release(r->params[i]);
    dc_loader_release(r->loader);
    dc_loss_release(r->loss_fn);
    dc_optim_release(r->opt);
    dc_module_release(r->model);
    dc_release(r->x_train);
    dc_release(r->y_train);
    dc_release(r->x_test);
    dc_release(r->y_test);
    dc_rng_free(r->rng);
}

int main(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o) != 0) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *probe = find_file(o.data_dir, "train-images-idx3-ubyte");
    if (!probe) {
        printf("fashion_mnist: no Fashion-MNIST in %s (install the Debian package "
               "dataset-fashion-mnist, or pass --data DIR); skipping\n", o.data_dir);
        return EXIT_SKIP;
    }
    free(probe);
    if (dc_set_num_threads(o.threads) != DC_OK) return fail("setting the thread count");

    run r = {0};
    double t0 = now_seconds();
    if (load_split(o.data_dir, "train", o.cnn, o.limit, &r.x_train, &r.y_train) != DC_OK ||
        load_split(o.data_dir, "t10k", o.cnn, 0, &r.x_test, &r.y_test) != DC_OK)
        return dc_last_status() != DC_OK ? fail("reading the dataset") : 1;
    if (o.standardize && standardize(&r) != DC_OK) return fail("standardising");
    printf("fashion_mnist: %s, %lld training and %lld test images from %s (read in %.1f s)%s\n",
           o.cnn ? "LeNet-5 CNN" : "MLP 784-256-256-10", (long long)dc_size(r.x_train, 0),
           (long long)dc_size(r.x_test, 0), o.data_dir, now_seconds() - t0,
           o.standardize ? ", standardised per pixel" : ", pixels in [0, 1]");

    r.rng = dc_rng_new(o.seed);
    if (!r.rng || build(&r, &o) != DC_OK) return fail("building the model");
    int64_t n_weights = 0;
    for (int64_t i = 0; i < r.n_params; i++) n_weights += dc_numel(r.params[i]);
    printf("%lld parameters; Adam lr %g, batch %lld, %d epoch%s, %d thread%s\n",
           (long long)n_weights, o.lr, (long long)o.batch, o.epochs, o.epochs == 1 ? "" : "s",
           dc_get_num_threads(), dc_get_num_threads() == 1 ? "" : "s");

    int64_t first_epoch = 0;
    if (o.resume) {
        if (dc_checkpoint_load(o.resume, r.model, r.opt, NULL, r.rng, &first_epoch) != DC_OK)
            return fail("resuming from the checkpoint");
        /* Replay the shuffles of the finished epochs so the data order
         * goes on as if the run had not stopped. */
        for (int64_t e = 0; e < first_epoch; e++)
            if (dc_loader_reset(r.loader) != DC_OK) return fail("replaying the shuffles");
        printf("resumed from %s after epoch %lld\n", o.resume, (long long)first_epoch);
    }

    int tty = isatty(STDOUT_FILENO);
    scores sc = {0};
    double train_time = 0;
    int evaluated = 0;
    for (int epoch = (int)first_epoch + 1; epoch <= o.epochs; epoch++) {
        double start = now_seconds(), mean_loss;
        if (train_epoch(&r, epoch, o.epochs, tty, &mean_loss) != DC_OK) return fail("training");
        double train_seconds = now_seconds() - start;
        train_time += train_seconds;
        if (evaluate(&r, &sc) != DC_OK) return fail("evaluating");
        evaluated = 1;
        if (dc_checkpoint_save(o.checkpoint, r.model, r.opt, NULL, r.rng, epoch) != DC_OK)
            return fail("saving the checkpoint");
        printf("epoch %d: train loss %.4f in %.1f s | test accuracy %.2f%%  macro precision "
               "%.4f  recall %.4f  F1 %.4f | checkpoint %s\n", epoch, mean_loss, train_seconds,
               100 * sc.accuracy, sc.precision, sc.recall, sc.f1, o.checkpoint);
    }
    if (!evaluated) {
        if (evaluate(&r, &sc) != DC_OK) return fail("evaluating");
        printf("nothing to train: the checkpoint is at epoch %lld of %d\n",
               (long long)first_epoch, o.epochs);
    }

    printf("per-class F1:");
    for (int c = 0; c < N_CLASSES; c++) printf(" %s %.2f%s", class_names[c], sc.per_class_f1[c],
                                               c + 1 < N_CLASSES ? "," : "\n");
    int ok = sc.accuracy >= o.min_accuracy;
    printf("final test accuracy %.2f%% (target %.0f%%: %s); %.1f s of training, %.1f s in all "
           "(%.1f s of CPU time)\n", 100 * sc.accuracy, 100 * o.min_accuracy,
           ok ? "reached" : "NOT reached", train_time, now_seconds() - t0,
           (double)clock() / CLOCKS_PER_SEC);
    release_run(&r);
    return ok ? 0 : 2;
}

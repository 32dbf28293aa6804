#include "results.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sc_result_path(const char *out_dir, const sc_job *job, char *path, size_t size) {
    int n = snprintf(path, size, "%s/runs/%s-L%d-W%d-s%d.csv", out_dir,
                     job->task == SC_TASK_LM ? "lm" : "add", job->layers, job->width, job->seed);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

int sc_result_exists(const char *out_dir, const sc_job *job) {
    char path[4096];
    return sc_result_path(out_dir, job, path, sizeof path) == 0 && access(path, F_OK) == 0;
}

int sc_csv_columns(sc_task task) {
    return task == SC_TASK_LM ? 10 : 10 + 2 + SC_ADD_ANSWER;
}

void sc_csv_header(FILE *f, sc_task task) {
    fputs("layers,width,heads,n_params,seed,step,train_loss,", f);
    if (task == SC_TASK_LM) {
        fputs("val_loss", f);
    } else {
        fputs("test_loss,exact_match,digit_acc", f);
        for (int k = 1; k <= SC_ADD_ANSWER; k++) fprintf(f, ",pos%d_acc", k);
    }
    fputs(",lr,seconds\n", f);
}

void sc_csv_row(FILE *f, sc_task task, const sc_row *r) {
    fprintf(f, "%d,%d,%d,%lld,%d,%ld,%.6f,%.6f", r->layers, r->width, r->heads,
            (long long)r->n_params, r->seed, r->step, r->train_loss, r->val_loss);
    if (task == SC_TASK_ADD) {
        fprintf(f, ",%.4f,%.4f", r->add.exact, r->add.digit);
        for (int k = 0; k < SC_ADD_ANSWER; k++) fprintf(f, ",%.4f", r->add.position[k]);
    }
    fprintf(f, ",%.6g,%.2f\n", r->lr, r->seconds);
}

int sc_csv_parse(const char *line, sc_task task, sc_row *r) {
    memset(r, 0, sizeof *r);
    long long n_params;
    int used = 0;
    if (sscanf(line, "%d,%d,%d,%lld,%d,%ld,%lf,%lf%n", &r->layers, &r->width, &r->heads,
               &n_params, &r->seed, &r->step, &r->train_loss, &r->val_loss, &used) != 8)
        return -1;
    r->n_params = n_params;
    line += used;
    if (task == SC_TASK_ADD) {
        if (sscanf(line, ",%lf,%lf%n", &r->add.exact, &r->add.digit, &used) != 2) return -1;
        line += used;
        for (int k = 0; k < SC_ADD_ANSWER; k++) {
            if (sscanf(line, ",%lf%n", &r->add.position[k], &used) != 1) return -1;
            line += used;
        }
        r->add.loss = r->val_loss;
    }
    return sscanf(line, ",%lf,%lf", &r->lr, &r->seconds) == 2 ? 0 : -1;
}

int sc_result_write(const char *out_dir, const sc_job *job, const sc_row *rows, int n) {
    char path[4096], tmp[4200];
    if (sc_result_path(out_dir, job, path, sizeof path) != 0) return -1;
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    sc_csv_header(f, job->task);
    for (int i = 0; i < n; i++) sc_csv_row(f, job->task, &rows[i]);
    int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;
    if (fclose(f) != 0) rc = -1;
    if (rc == 0) rc = rename(tmp, path);
    if (rc != 0) remove(tmp);
    return rc;
}

int sc_result_read(const char *out_dir, const sc_job *job, sc_row **rows, int *n) {
    char path[4096], line[1024];
    if (sc_result_path(out_dir, job, path, sizeof path) != 0) return -1;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int rc = fgets(line, sizeof line, f) ? 0 : -1;   /* the header */
    while (rc == 0 && fgets(line, sizeof line, f)) {
        sc_row *grown = realloc(*rows, (size_t)(*n + 1) * sizeof **rows);
        if (!grown) {
            rc = -1;
            break;
        }
        *rows = grown;
        if (sc_csv_parse(line, job->task, &grown[*n]) != 0) rc = -1;
        else (*n)++;
    }
    fclose(f);
    return rc;
}

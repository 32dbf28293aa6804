/* Result files and the study's CSVs. Every finished job writes its rows
 * to its own file under OUT/runs/ (written to a temporary name and
 * renamed, so a file that exists is complete): that is what a resumed
 * run skips. The CSVs are gathered from those files at the end. */
#ifndef SCALING_RESULTS_H
#define SCALING_RESULTS_H

#include "study.h"

#include <stdio.h>

/* OUT/runs/lm-L2-W64-s1.csv (or add-...). Returns 0, -1 if too long. */
int sc_result_path(const char *out_dir, const sc_job *job, char *path, size_t size);
/* 1 when the job's result file exists. */
int sc_result_exists(const char *out_dir, const sc_job *job);
int sc_result_write(const char *out_dir, const sc_job *job, const sc_row *rows, int n);
/* Appends the job's rows to *rows (grown with realloc); -1 when the file
 * is missing or malformed. */
int sc_result_read(const char *out_dir, const sc_job *job, sc_row **rows, int *n);

/* The CSV header line and one row (with the newline), per task. */
void sc_csv_header(FILE *f, sc_task task);
void sc_csv_row(FILE *f, sc_task task, const sc_row *row);
/* Parses a row written by sc_csv_row: 0, or -1. */
int sc_csv_parse(const char *line, sc_task task, sc_row *row);
/* Number of columns of the task's CSV. */
int sc_csv_columns(sc_task task);

#endif

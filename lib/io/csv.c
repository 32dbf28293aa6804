/* Numeric CSV reader.
 *
 * header_rows lines are skipped; every other line is a row of numbers
 * separated by commas, each optionally surrounded by spaces or tabs. Lines
 * end with \n or \r\n; the last one may have no line end, and blank lines
 * at the end are ignored (a blank line before more data is an error).
 * Quoting is not supported (a quoted field is text, hence an error).
 *
 * Two passes over the text: the first counts rows and columns and checks
 * blank lines, the second parses the fields straight into the tensor. */
#include "io_internal.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longer fields are not plausible numbers and are rejected. */
#define CSV_MAX_FIELD 511
/* Largest CSV file dc_csv_load reads. */
#define CSV_MAX_FILE ((size_t)1 << 32)

typedef struct csv_line {
    const char *start;
    size_t len;              /* without the line end */
    int64_t number;          /* 1-based, header lines included */
} csv_line;

typedef struct csv_reader {
    const char *text;
    size_t size;
    size_t pos;
    int64_t line_number;
    const char *origin;      /* file name for messages, or NULL */
} csv_reader;

/* Records DC_E_FORMAT with "dc_csv_load: ['origin': ]detail". */
DC_PRINTF(2, 3)
static dc_status csv_error(const csv_reader *r, const char *fmt, ...) {
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (r->origin) return dc__fail(DC_E_FORMAT, "dc_csv_load: '%s': %s", r->origin, detail);
    return dc__fail(DC_E_FORMAT, "dc_csv_load: %s", detail);
}

static bool next_line(csv_reader *r, csv_line *line) {
    if (r->pos >= r->size) return false;
    const char *start = r->text + r->pos;
    size_t left = r->size - r->pos;
    const char *nl = memchr(start, '\n', left);
    size_t len = nl ? (size_t)(nl - start) : left;
    r->pos += nl ? len + 1 : len;
    if (len > 0 && start[len - 1] == '\r') len--;
    line->start = start;
    line->len = len;
    line->number = ++r->line_number;
    return true;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static bool is_blank(const csv_line *line) {
    for (size_t i = 0; i < line->len; i++)
        if (!is_space(line->start[i])) return false;
    return true;
}

static int64_t count_fields(const csv_line *line) {
    int64_t n = 1;
    for (size_t i = 0; i < line->len; i++) n += line->start[i] == ',';
    return n;
}

static void rewind_reader(csv_reader *r) {
    r->pos = 0;
    r->line_number = 0;
}

/* Skips the header lines; false when the text ends first. */
static bool skip_header(csv_reader *r, int header_rows) {
    csv_line line;
    for (int i = 0; i < header_rows; i++)
        if (!next_line(r, &line)) return false;
    return true;
}

/* Pass 1: the number of data rows and of columns (from the first row). */
static dc_status measure(csv_reader *r, int header_rows, int64_t *rows, int64_t *cols) {
    rewind_reader(r);
    if (!skip_header(r, header_rows))
        return csv_error(r, "no data rows: the text has fewer than %d header lines",
                         header_rows);
    csv_line line;
    int64_t n = 0, first_blank = 0;
    while (next_line(r, &line)) {
        if (is_blank(&line)) {
            if (!first_blank) first_blank = line.number;
            continue;
        }
        if (first_blank) return csv_error(r, "line %lld is empty", (long long)first_blank);
        if (n == 0) *cols = count_fields(&line);
        n++;
    }
    if (n == 0) return csv_error(r, "no data rows after %d header lines", header_rows);
    *rows = n;
    return DC_OK;
}

/* Field text for a message: at most 40 characters, unprintables as '?'. */
static void quote_field(const char *s, size_t len, char *out, size_t out_size) {
    size_t n = len < 40 ? len : 40;
    if (n > out_size - 4) n = out_size - 4;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch < 0x20 || ch >= 0x7f) ch = '?';
        out[j++] = ch;
    }
    if (n < len) {
        out[j++] = '.';
        out[j++] = '.';
        out[j++] = '.';
    }
    out[j] = '\0';
}

/* A NUL-terminated field (s, len > 0, no surrounding spaces) as a number
 * for dtype. Returns false when it is not a valid value of that dtype;
 * *why then says why. */
static bool parse_number(const char *s, size_t len, dc_dtype dtype, double *fvalue,
                         int64_t *ivalue, const char **why) {
    char *end;
    bool integer = dtype == DC_I32 || dtype == DC_I64;
    if (isspace((unsigned char)s[0])) {  /* strtod would skip \v, \f, \r */
        *why = "is not a number";
        return false;
    }
    if (integer) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if ((size_t)(end - s) == len && errno == 0) {
            if (dtype == DC_I32 && (v < INT32_MIN || v > INT32_MAX)) {
                *why = "is out of range for i32";
                return false;
            }
            *ivalue = v;
            return true;
        }
    }
    errno = 0;
    double d = strtod(s, &end);
    if (end == s) {
        *why = "is not a number";
        return false;
    }
    if ((size_t)(end - s) != len) {
        *why = "has trailing characters after the number";
        return false;
    }
    if (errno == ERANGE && fabs(d) == HUGE_VAL) {
        *why = "is out of range";
        return false;
    }
    if (!integer) {
        if (dtype == DC_F32 && isfinite(d) && fabs(d) > FLT_MAX) {
            *why = "is out of range for f32";
            return false;
        }
        *fvalue = d;
        return true;
    }
    /* An integral value written as a float (3.0, 1e3) is accepted. */
    if (!isfinite(d) || d != trunc(d)) {
        *why = "is not an integer";
        return false;
    }
    double lo = dtype == DC_I32 ? -2147483648.0 : -9223372036854775808.0;
    double hi = dtype == DC_I32 ? 2147483648.0 : 9223372036854775808.0;  /* excluded */
    if (d < lo || d >= hi) {
        *why = dtype == DC_I32 ? "is out of range for i32" : "is out of range for i64";
        return false;
    }
    *ivalue = (int64_t)d;
    return true;
}

static void store(void *data, dc_dtype dtype, int64_t i, double f, int64_t v) {
    switch (dtype) {
    case DC_F32: ((float *)data)[i] = (float)f; break;
    case DC_F64: ((double *)data)[i] = f; break;
    case DC_I32: ((int32_t *)data)[i] = (int32_t)v; break;
    default: ((int64_t *)data)[i] = v; break;
    }
}

/* Parses one data line into row `row` of out (cols values). */
static dc_status parse_row(const csv_reader *r, const csv_line *line, dc_tensor *out,
                           int64_t row) {
    int64_t cols = out->shape[1];
    int64_t got = count_fields(line);
    if (got != cols)
        return csv_error(r, "line %lld has %lld columns, expected %lld",
                         (long long)line->number, (long long)got, (long long)cols);
    void *data = dc__tensor_data(out);
    const char *p = line->start, *end = line->start + line->len;
    char field[CSV_MAX_FIELD + 1];
    for (int64_t c = 0; c < cols; c++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *fend = comma ? comma : end;
        const char *a = p, *b = fend;
        while (a < b && is_space(*a)) a++;
        while (b > a && is_space(b[-1])) b--;
        size_t len = (size_t)(b - a);
        if (len == 0)
            return csv_error(r, "line %lld, column %lld: empty field",
                             (long long)line->number, (long long)c + 1);
        if (len > CSV_MAX_FIELD)
            return csv_error(r, "line %lld, column %lld: field of %zu characters is too long",
                             (long long)line->number, (long long)c + 1, len);
        memcpy(field, a, len);
        field[len] = '\0';
        double f = 0;
        int64_t v = 0;
        const char *why = NULL;
        if (!parse_number(field, len, out->dtype, &f, &v, &why)) {
            char shown[48];
            quote_field(a, len, shown, sizeof shown);
            return csv_error(r, "line %lld, column %lld: '%s' %s", (long long)line->number,
                             (long long)c + 1, shown, why);
        }
        store(data, out->dtype, row * cols + c, f, v);
        if (comma) p = comma + 1;
    }
    return DC_OK;
}

/* Pass 2: every data line into out. */
static dc_status fill(csv_reader *r, int header_rows, dc_tensor *out) {
    rewind_reader(r);
    skip_header(r, header_rows);
    csv_line line;
    for (int64_t row = 0; row < out->shape[0];) {
        /* measure() saw rows lines before any blank one */
        if (!next_line(r, &line)) return dc__fail(DC_E_INTERNAL, "dc_csv_load: lines vanished");
        dc_status st = parse_row(r, &line, out, row);
        if (st != DC_OK) return st;
        row++;
    }
    return DC_OK;
}

static dc_status check_args(int header_rows, dc_dtype dtype) {
    if (header_rows < 0)
        return dc__fail(DC_E_INVALID, "dc_csv_load: header_rows %d is negative", header_rows);
    if (dtype != DC_F32 && dtype != DC_F64 && dtype != DC_I32 && dtype != DC_I64)
        return dc__fail(DC_E_DTYPE, "dc_csv_load: dtype %s is not f32, f64, i32 or i64",
                        dc_dtype_name(dtype));
    return DC_OK;
}

static dc_tensor *csv_parse(const char *text, size_t size, int header_rows, dc_dtype dtype,
                            const char *origin) {
    if (!text && size > 0) {
        dc__fail(DC_E_INVALID, "dc_csv_load: 'text' is NULL");
        return NULL;
    }
    if (check_args(header_rows, dtype) != DC_OK) return NULL;
    csv_reader r = {text, size, 0, 0, origin};
    int64_t shape[2];
    if (measure(&r, header_rows, &shape[0], &shape[1]) != DC_OK) return NULL;
    dc_tensor *out = dc__tensor_new(dtype, 2, shape, false);
    if (!out) return NULL;
    if (fill(&r, header_rows, out) != DC_OK) {
        dc_release(out);
        return NULL;
    }
    return out;
}

dc_tensor *dc__csv_parse(const char *text, size_t size, int header_rows, dc_dtype dtype) {
    return csv_parse(text, size, header_rows, dtype, NULL);
}

dc_tensor *dc_csv_load(const char *path, int header_rows, dc_dtype dtype) {
    if (!path) {
        dc__fail(DC_E_INVALID, "dc_csv_load: 'path' is NULL");
        return NULL;
    }
    if (check_args(header_rows, dtype) != DC_OK) return NULL;
    unsigned char *data;
    size_t size;
    if (dc__read_file(path, CSV_MAX_FILE, "dc_csv_load", &data, &size) != DC_OK) return NULL;
    dc_tensor *out = csv_parse((const char *)data, size, header_rows, dtype, path);
    dc__free(data);
    return dc__publish(out);
}

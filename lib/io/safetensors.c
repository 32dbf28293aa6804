/* safetensors reading and writing.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON,
 * then the data region. The JSON object maps each tensor name to
 * {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data
 * region) and may hold "__metadata__": {string: string}. The tensors must
 * tile the data region exactly, as the reference implementation checks. */
#include "st_internal.h"
#include "json.h"
#include "io_internal.h"
#include "../nn/module.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAGIC 0x44435354u                 /* "DCST" */
#define ST_MAX_HEADER ((uint64_t)100000000)  /* 100 MB, as the reference */

/* The dtypes of the format. dc < 0: a known size, but no dtype of ours. */
typedef struct st_dtype_info {
    const char *name;
    size_t size;
    int dc;
} st_dtype_info;

enum { ST_F16 = 6, ST_BF16 = 7 };

static const st_dtype_info st_dtypes[] = {
    {"F32", 4, DC_F32}, {"F64", 8, DC_F64}, {"I32", 4, DC_I32},
    {"I64", 8, DC_I64}, {"U8", 1, DC_U8}, {"BOOL", 1, DC_BOOL},
    {"F16", 2, DC_F32}, {"BF16", 2, DC_F32},
    {"I8", 1, -1}, {"I16", 2, -1}, {"U16", 2, -1}, {"U32", 4, -1},
    {"U64", 8, -1}, {"F8_E4M3", 1, -1}, {"F8_E5M2", 1, -1},
};
#define ST_N_DTYPES ((int)(sizeof st_dtypes / sizeof st_dtypes[0]))

typedef struct st_entry {
    char *name;
    int kind;                       /* index into st_dtypes */
    int ndim;                       /* may exceed DC_MAX_DIMS: unreadable */
    int64_t shape[DC_MAX_DIMS];
    uint64_t begin, end;            /* in the data region */
} st_entry;

struct dc_safetensors {
    uint32_t magic;
    unsigned char *bytes;           /* the whole file */
    size_t size;
    const unsigned char *data;      /* the data region */
    uint64_t data_len;
    st_entry *entries;              /* in file order */
    int64_t n, cap;
    int64_t *by_name;               /* entry indexes sorted by name */
    char **meta;                    /* key, value, key, value, ... */
    int64_t n_meta, cap_meta;
    char ctx[320];                  /* prefix of error messages */
};

/* ---------------------------------------------------------------- */
/* Bytes                                                             */
/* ---------------------------------------------------------------- */

static bool host_is_le(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* Reverses the bytes of each of n elements of size sz (big-endian hosts). */
static void swap_elements(void *p, size_t sz, int64_t n) {
    unsigned char *b = p;
    if (sz == 1) return;
    for (int64_t i = 0; i < n; i++, b += sz)
        for (size_t k = 0; k < sz / 2; k++) {
            unsigned char t = b[k];
            b[k] = b[sz - 1 - k];
            b[sz - 1 - k] = t;
        }
}

static uint64_t load_le64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

static void store_le64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static float bits_to_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* IEEE half to single: exact for every value, subnormals included; NaN
 * payloads are kept. */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | mant << 13);
    if (exp != 0) return bits_to_float(sign | (exp + 112) << 23 | mant << 13);
    if (mant == 0) return bits_to_float(sign);
    /* subnormal mant * 2^-24: shift the leading one into the implicit bit */
    uint32_t e = 0;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e++;
    }
    return bits_to_float(sign | (113 - e) << 23 | (mant & 0x3ffu) << 13);
}

/* ---------------------------------------------------------------- */
/* Parsing                                                           */
/* ---------------------------------------------------------------- */

static bool grow(void **arr, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return true;
    int64_t c = *cap ? *cap * 2 : 16;
    if (c < need) c = need;
    void *p = dc__realloc(*arr, (size_t)c * elem);
    if (!p) return false;
    *arr = p;
    *cap = c;
    return true;
}

static bool semantic_error(const dc_safetensors *st, const char *name, const char *what) {
    if (name)
        dc__fail(DC_E_FORMAT, "%s: tensor '%.80s': %s", st->ctx, name, what);
    else
        dc__fail(DC_E_FORMAT, "%s: %s", st->ctx, what);
    return false;
}

static bool parse_dtype(dc_safetensors *st, dc_json *j, st_entry *e) {
    char *s;
    if (!dc__json_string(j, &s)) return false;
    e->kind = -1;
    for (int k = 0; k < ST_N_DTYPES; k++)
        if (strcmp(s, st_dtypes[k].name) == 0) e->kind = k;
    if (e->kind < 0) {
        char what[96];
        snprintf(what, sizeof what, "unknown dtype '%.40s'", s);
        dc__free(s);
        return semantic_error(st, e->name, what);
    }
    dc__free(s);
    return true;
}

/* The shape and its element count (no overflow). Sizes past DC_MAX_DIMS
 * are counted but not kept. */
static bool parse_shape(dc_safetensors *st, dc_json *j, st_entry *e, int64_t *numel) {
    if (!dc__json_expect(j, '[')) return false;
    e->ndim = 0;
    *numel = 1;
    if (dc__json_accept(j, ']')) return true;
    do {
        int64_t v;
        if (!dc__json_int(j, &v)) return false;
        if (v < 0) return semantic_error(st, e->name, "negative size in the shape");
        if (v != 0 && *numel > INT64_MAX / v)
            return semantic_error(st, e->name, "the element count of the shape overflows");
        *numel *= v;
        if (e->ndim < DC_MAX_DIMS) e->shape[e->ndim] = v;
        if (e->ndim == INT32_MAX) return semantic_error(st, e->name, "too many dimensions");
        e->ndim++;
    } while (dc__json_accept(j, ','));
    return dc__json_expect(j, ']');
}

static bool parse_offsets(dc_safetensors *st, dc_json *j, st_entry *e) {
    int64_t b, en;
    if (!dc__json_expect(j, '[') || !dc__json_int(j, &b) || !dc__json_expect(j, ',') ||
        !dc__json_int(j, &en) || !dc__json_expect(j, ']'))
        return false;
    if (b < 0 || en < 0) return semantic_error(st, e->name, "negative data offset");
    if (b > en) return semantic_error(st, e->name, "data_offsets end before they begin");
    if ((uint64_t)en > st->data_len)
        return semantic_error(st, e->name, "data_offsets point past the end of the data");
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    return true;
}

/* One tensor's info object; e->name is set. Unknown keys are skipped. */
static bool parse_entry(dc_safetensors *st, dc_json *j, st_entry *e) {
    bool have_dtype = false, have_shape = false, have_offsets = false;
    int64_t numel = 0;
    if (!dc__json_expect(j, '{')) return false;
    if (!dc__json_accept(j, '}')) {
        do {
            char *key;
            bool ok;
            if (!dc__json_string(j, &key)) return false;
            if (!dc__json_expect(j, ':')) {
                dc__free(key);
                return false;
            }
            bool *seen = strcmp(key, "dtype") == 0          ? &have_dtype
                         : strcmp(key, "shape") == 0        ? &have_shape
                         : strcmp(key, "data_offsets") == 0 ? &have_offsets
                                                            : NULL;
            if (seen && *seen) {
                char what[64];
                snprintf(what, sizeof what, "duplicate key '%s'", key);
                dc__free(key);
                return semantic_error(st, e->name, what);
            }
            if (seen == &have_dtype) ok = parse_dtype(st, j, e);
            else if (seen == &have_shape) ok = parse_shape(st, j, e, &numel);
            else if (seen == &have_offsets) ok = parse_offsets(st, j, e);
            else ok = dc__json_skip(j, 2);
            dc__free(key);
            if (!ok) return false;
            if (seen) *seen = true;
        } while (dc__json_accept(j, ','));
        if (!dc__json_expect(j, '}')) return false;
    }
    if (!have_dtype) return semantic_error(st, e->name, "no dtype");
    if (!have_shape) return semantic_error(st, e->name, "no shape");
    if (!have_offsets) return semantic_error(st, e->name, "no data_offsets");
    size_t sz = st_dtypes[e->kind].size;
    if ((uint64_t)numel > UINT64_MAX / sz || (uint64_t)numel * sz != e->end - e->begin) {
        char what[160];
        snprintf(what, sizeof what,
                 "data_offsets span %llu bytes, its dtype and shape need %lld x %zu",
                 (unsigned long long)(e->end - e->begin), (long long)numel, sz);
        return semantic_error(st, e->name, what);
    }
    return true;
}

static bool parse_metadata(dc_safetensors *st, dc_json *j) {
    if (dc__json_peek(j) == 'n') return dc__json_skip(j, 1);   /* null: none */
    if (!dc__json_expect(j, '{')) return false;
    if (dc__json_accept(j, '}')) return true;
    do {
        if (!grow((void **)&st->meta, &st->cap_meta, 2 * st->n_meta + 2, sizeof(char *)))
            return false;
        char **kv = st->meta + 2 * st->n_meta;
        if (!dc__json_string(j, &kv[0])) return false;
        if (!dc__json_expect(j, ':') || dc__json_peek(j) != '"') {
            dc__free(kv[0]);
            return dc__json_error(j, "expected a string value in __metadata__");
        }
        if (!dc__json_string(j, &kv[1])) {
            dc__free(kv[0]);
            return false;
        }
        st->n_meta++;
    } while (dc__json_accept(j, ','));
    return dc__json_expect(j, '}');
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The entries sorted by name, for lookups; duplicates are an error. */
/* qsort has no context argument */
static _Thread_local const st_entry *tl_sort_entries;

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp(tl_sort_entries[*(const int64_t *)a].name,
                  tl_sort_entries[*(const int64_t *)b].name);
}

static int cmp_entry_offset(const void *a, const void *b) {
    const st_entry *x = &tl_sort_entries[*(const int64_t *)a];
    const st_entry *y = &tl_sort_entries[*(const int64_t *)b];
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static bool check_names(dc_safetensors *st) {
    st->by_name = dc__malloc((size_t)(st->n ? st->n : 1) * sizeof(int64_t));
    if (!st->by_name) return false;
    for (int64_t i = 0; i < st->n; i++) st->by_name[i] = i;
    tl_sort_entries = st->entries;
    qsort(st->by_name, (size_t)st->n, sizeof(int64_t), cmp_entry_name);
    for (int64_t i = 1; i < st->n; i++) {
        const char *a = st->entries[st->by_name[i - 1]].name;
        if (strcmp(a, st->entries[st->by_name[i]].name) == 0)
            return semantic_error(st, a, "duplicate name");
    }
    if (st->n_meta > 1) {
        /* sort the keys' addresses: meta is key, value pairs */
        const char **keys = dc__malloc((size_t)st->n_meta * sizeof *keys);
        if (!keys) return false;
        for (int64_t i = 0; i < st->n_meta; i++) keys[i] = st->meta[2 * i];
        qsort(keys, (size_t)st->n_meta, sizeof *keys, cmp_str_ptr);
        for (int64_t i = 1; i < st->n_meta; i++)
            if (strcmp(keys[i - 1], keys[i]) == 0) {
                dc__fail(DC_E_FORMAT, "%s: duplicate __metadata__ key '%.80s'", st->ctx, keys[i]);
                dc__free(keys);
                return false;
            }
        dc__free(keys);
    }
    return true;
}

/* The tensors, in offset order, must tile the data region: no overlap,
 * no gap, nothing left over. */
static bool check_offsets(dc_safetensors *st) {
    int64_t *order = dc__malloc((size_t)(st->n ? st->n : 1) * sizeof *order);
    if (!order) return false;
    for (int64_t i = 0; i < st->n; i++) order[i] = i;
    tl_sort_entries = st->entries;
    qsort(order, (size_t)st->n, sizeof *order, cmp_entry_offset);
    uint64_t cursor = 0;
    bool ok = true;
    for (int64_t i = 0; i < st->n && ok; i++) {
        const st_entry *e = &st->entries[order[i]];
        if (e->begin < cursor) ok = semantic_error(st, e->name, "data overlaps another tensor");
        else if (e->begin > cursor)
            ok = semantic_error(st, e->name, "a gap in the data precedes it");
        cursor = e->end;
    }
    if (ok && cursor != st->data_len) {
        char what[128];
        snprintf(what, sizeof what, "the data region has %llu bytes, the tensors cover %llu",
                 (unsigned long long)st->data_len, (unsigned long long)cursor);
        ok = semantic_error(st, NULL, what);
    }
    dc__free(order);
    return ok;
}

static bool parse_json(dc_safetensors *st, const char *text, size_t len) {
    dc_json j;
    dc__json_init(&j, text, len, st->ctx);
    bool seen_meta = false;
    if (!dc__json_expect(&j, '{')) return false;
    if (!dc__json_accept(&j, '}')) {
        do {
            char *key;
            if (!dc__json_string(&j, &key)) return false;
            if (!dc__json_expect(&j, ':')) {
                dc__free(key);
                return false;
            }
            if (strcmp(key, "__metadata__") == 0) {
                dc__free(key);
                if (seen_meta) return semantic_error(st, NULL, "two __metadata__ objects");
                seen_meta = true;
                if (!parse_metadata(st, &j)) return false;
                continue;
            }
            if (!grow((void **)&st->entries, &st->cap, st->n + 1, sizeof(st_entry))) {
                dc__free(key);
                return false;
            }
            st_entry *e = &st->entries[st->n++];
            memset(e, 0, sizeof *e);
            e->name = key;
            if (!parse_entry(st, &j, e)) return false;
        } while (dc__json_accept(&j, ','));
        if (!dc__json_expect(&j, '}')) return false;
    }
    if (!dc__json_at_end(&j)) return dc__json_error(&j, "trailing characters after the object");
    return check_names(st) && check_offsets(st);
}

static bool parse_file(dc_safetensors *st) {
    if (st->size < 8) {
        char what[96];
        snprintf(what, sizeof what, "%zu bytes are too few for the 8-byte header length",
                 st->size);
        return semantic_error(st, NULL, what);
    }
    uint64_t hlen = load_le64(st->bytes);
    if (hlen > ST_MAX_HEADER || hlen > st->size - 8) {
        char what[160];
        snprintf(what, sizeof what, "header length %llu is %s (%zu bytes follow it)",
                 (unsigned long long)hlen,
                 hlen > ST_MAX_HEADER ? "over the 100 MB limit" : "past the end", st->size - 8);
        return semantic_error(st, NULL, what);
    }
    st->data = st->bytes + 8 + hlen;
    st->data_len = st->size - 8 - hlen;
    return parse_json(st, (const char *)st->bytes + 8, (size_t)hlen);
}

/* Takes over bytes (freed on failure too). */
static dc_safetensors *parse_owned(unsigned char *bytes, size_t size, const char *ctx) {
    dc_safetensors *st = dc__calloc(1, sizeof *st);
    if (!st) {
        dc__free(bytes);
        return NULL;
    }
    st->magic = ST_MAGIC;
    st->bytes = bytes;
    st->size = size;
    snprintf(st->ctx, sizeof st->ctx, "%s", ctx);
    if (!parse_file(st)) {
        dc_safetensors_close(st);
        return NULL;
    }
    return st;
}

static bool is_st(const dc_safetensors *st) { return st != NULL && st->magic == ST_MAGIC; }

#define CHECK_ST(st, func, ret)                                                   \
    do {                                                                          \
        if (!is_st(st)) {                                                         \
            dc__fail(DC_E_INVALID, "%s: 'st' is %s", func,                        \
                     (st) ? "not an open safetensors" : "NULL");                  \
            return ret;                                                           \
        }                                                                         \
    } while (0)

/* ---------------------------------------------------------------- */
/* Opening                                                           */
/* ---------------------------------------------------------------- */

/* Reads a whole stream; the buffer grows with what is actually read. */
static bool read_all(FILE *f, unsigned char **out, size_t *size, const char *func,
                     const char *path) {
    struct stat sb;
    size_t cap = 65536;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0 &&
        (uint64_t)sb.st_size < SIZE_MAX - 1)
        cap = (size_t)sb.st_size + 1;   /* + 1 to see EOF without growing */
    unsigned char *buf = dc__malloc(cap);
    size_t len = 0;
    if (!buf) return false;
    for (;;) {
        len += fread(buf + len, 1, cap - len, f);
        if (ferror(f)) {
            dc__fail(DC_E_IO, "%s: reading '%s': %s", func, path, DC__ERRNO_TEXT(errno));
            dc__free(buf);
            return false;
        }
        if (feof(f)) break;
        if (len == cap) {
            if (cap > SIZE_MAX / 2) {
                dc__free(buf);
                dc__fail(DC_E_OVERFLOW, "%s: '%s' is too large", func, path);
                return false;
            }
            unsigned char *p = dc__realloc(buf, cap * 2);
            if (!p) {
                dc__free(buf);
                return false;
            }
            buf = p;
            cap *= 2;
        }
    }
    *out = buf;
    *size = len;
    return true;
}

dc_safetensors *dc__st_open(const char *path, const char *func) {
    if (!path) {
        dc__fail(DC_E_INVALID, "%s: 'path' is NULL", func);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        dc__fail(DC_E_IO, "%s: cannot open '%s': %s", func, path, DC__ERRNO_TEXT(errno));
        return NULL;
    }
    unsigned char *bytes;
    size_t size;
    bool ok = read_all(f, &bytes, &size, func, path);
    fclose(f);
    if (!ok) return NULL;
    char ctx[320];
    snprintf(ctx, sizeof ctx, "%s: '%.256s'", func, path);
    return parse_owned(bytes, size, ctx);
}

dc_safetensors *dc_safetensors_open(const char *path) {
    return dc__st_open(path, "dc_safetensors_open");
}

dc_safetensors *dc_safetensors_from_buffer(const void *data, size_t size) {
    if (!data && size > 0) {
        dc__fail(DC_E_INVALID, "dc_safetensors_from_buffer: 'data' is NULL");
        return NULL;
    }
    unsigned char *copy = dc__malloc(size);
    if (!copy) return NULL;
    if (size) memcpy(copy, data, size);
    return parse_owned(copy, size, "dc_safetensors_from_buffer");
}

void dc_safetensors_close(dc_safetensors *st) {
    if (!is_st(st)) return;
    for (int64_t i = 0; i < st->n; i++) dc__free(st->entries[i].name);
    for (int64_t i = 0; i < 2 * st->n_meta; i++) dc__free(st->meta[i]);
    dc__free(st->entries);
    dc__free(st->meta);
    dc__free(st->by_name);
    dc__free(st->bytes);
    st->magic = 0;
    dc__free(st);
}

int64_t dc_safetensors_count(const dc_safetensors *st) {
    CHECK_ST(st, "dc_safetensors_count", -1);
    return st->n;
}

const char *dc_safetensors_name(const dc_safetensors *st, int64_t i) {
    CHECK_ST(st, "dc_safetensors_name", NULL);
    if (i < 0 || i >= st->n) {
        dc__fail(DC_E_RANGE, "dc_safetensors_name: index %lld is outside 0..%lld", (long long)i,
                 (long long)st->n - 1);
        return NULL;
    }
    return st->entries[i].name;
}

const char *dc_safetensors_metadata(const dc_safetensors *st, const char *key) {
    CHECK_ST(st, "dc_safetensors_metadata", NULL);
    if (!key) {
        dc__fail(DC_E_INVALID, "dc_safetensors_metadata: 'key' is NULL");
        return NULL;
    }
    for (int64_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[2 * i], key) == 0) return st->meta[2 * i + 1];
    dc__fail(DC_E_RANGE, "dc_safetensors_metadata: no key '%.80s'", key);
    return NULL;
}

/* ---------------------------------------------------------------- */
/* Reading tensors                                                   */
/* ---------------------------------------------------------------- */

static const st_entry *find_entry(const dc_safetensors *st, const char *name) {
    int64_t lo = 0, hi = st->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const st_entry *e = &st->entries[st->by_name[mid]];
        int c = strcmp(e->name, name);
        if (c == 0) return e;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static void decode(const st_entry *e, const unsigned char *src, dc_tensor *out) {
    unsigned char *dst = dc__tensor_data(out);
    int64_t n = out->numel;
    float *f = (float *)dst;
    switch (e->kind) {
    case ST_F16:
        for (int64_t i = 0; i < n; i++)
            f[i] = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
        return;
    case ST_BF16:
        for (int64_t i = 0; i < n; i++)
            f[i] = bits_to_float((uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16);
        return;
    default:
        break;
    }
    if (out->dtype == DC_BOOL) {
        for (int64_t i = 0; i < n; i++) dst[i] = src[i] != 0;
        return;
    }
    size_t sz = st_dtypes[e->kind].size;
    if (n > 0) memcpy(dst, src, (size_t)n * sz);
    if (!host_is_le()) swap_elements(dst, sz, n);
}

/* A new tensor of entry e, owned by the caller (in no scope). */
static dc_tensor *entry_tensor(const dc_safetensors *st, const st_entry *e, const char *func) {
    const st_dtype_info *d = &st_dtypes[e->kind];
    if (d->dc < 0) {
        dc__fail(DC_E_UNSUPPORTED, "%s: tensor '%.80s' has dtype %s, which libdeepcore does not read",
                 func, e->name, d->name);
        return NULL;
    }
    if (e->ndim > DC_MAX_DIMS) {
        dc__fail(DC_E_UNSUPPORTED, "%s: tensor '%.80s' has %d dimensions, more than %d", func,
                 e->name, e->ndim, DC_MAX_DIMS);
        return NULL;
    }
    dc_tensor *out = dc__tensor_new((dc_dtype)d->dc, e->ndim, e->shape, false);
    if (out) decode(e, st->data + e->begin, out);
    return out;
}

dc_tensor *dc_safetensors_get(const dc_safetensors *st, const char *name) {
    CHECK_ST(st, "dc_safetensors_get", NULL);
    if (!name) {
        dc__fail(DC_E_INVALID, "dc_safetensors_get: 'name' is NULL");
        return NULL;
    }
    const st_entry *e = find_entry(st, name);
    if (!e) {
        dc__fail(DC_E_RANGE, "dc_safetensors_get: no tensor '%.80s'", name);
        return NULL;
    }
    return dc__publish(entry_tensor(st, e, "dc_safetensors_get"));
}

/* ---------------------------------------------------------------- */
/* Writing                                                           */
/* ---------------------------------------------------------------- */

static const char *st_dtype_name(dc_dtype dt) {
    switch (dt) {
    case DC_F32: return "F32";
    case DC_F64: return "F64";
    case DC_I32: return "I32";
    case DC_I64: return "I64";
    case DC_U8: return "U8";
    case DC_BOOL: return "BOOL";
    }
    return NULL;
}

/* NULL entries are DC_E_INVALID; duplicates (names[i] == names[j]) too. */
static dc_status check_unique(const char *const *names, int64_t n, const char *func,
                              const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (!names[i]) return dc__fail(DC_E_INVALID, "%s: %s %lld is NULL", func, what, (long long)i);
    if (n < 2) return DC_OK;
    const char **sorted = dc__malloc((size_t)n * sizeof *sorted);
    if (!sorted) return DC_E_NOMEM;
    memcpy(sorted, names, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str_ptr);
    dc_status s = DC_OK;
    for (int64_t i = 1; i < n && s == DC_OK; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            s = dc__fail(DC_E_INVALID, "%s: duplicate %s '%.80s'", func, what, sorted[i]);
    dc__free(sorted);
    return s;
}

static dc_status check_save_args(const char *path, const char *const *names,
                                 dc_tensor *const *tensors, int64_t n,
                                 const char *const *meta_keys, const char *const *meta_values,
                                 int64_t n_meta, const char *func) {
    if (!path) return dc__fail(DC_E_INVALID, "%s: 'path' is NULL", func);
    if (n < 0 || n_meta < 0)
        return dc__fail(DC_E_INVALID, "%s: negative count (n %lld, n_meta %lld)", func,
                        (long long)n, (long long)n_meta);
    if (n > 0 && (!names || !tensors))
        return dc__fail(DC_E_INVALID, "%s: 'names' or 'tensors' is NULL", func);
    if (n_meta > 0 && (!meta_keys || !meta_values))
        return dc__fail(DC_E_INVALID, "%s: 'meta_keys' or 'meta_values' is NULL", func);
    for (int64_t i = 0; i < n; i++) {
        DC_CHECK_TENSOR_OR_STATUS(tensors[i], func, "tensors[i]");
        if (!st_dtype_name(tensors[i]->dtype))
            return dc__fail(DC_E_DTYPE, "%s: tensor %lld has an unknown dtype", func, (long long)i);
        if (names[i] && strcmp(names[i], "__metadata__") == 0)
            return dc__fail(DC_E_INVALID, "%s: '__metadata__' cannot name a tensor", func);
    }
    for (int64_t i = 0; i < n_meta; i++)
        if (!meta_values[i])
            return dc__fail(DC_E_INVALID, "%s: metadata value %lld is NULL", func, (long long)i);
    dc_status s = check_unique(names, n, func, "tensor name");
    if (s == DC_OK) s = check_unique(meta_keys, n_meta, func, "metadata key");
    return s;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes as the
 * reference implementation does, so the data region starts aligned. */
static dc_status build_header(dc_strbuf *b, const char *const *names, dc_tensor *const *tensors,
                              int64_t n, const char *const *meta_keys,
                              const char *const *meta_values, int64_t n_meta, const char *func) {
    dc_status s = DC_OK;
    dc__sb_puts(b, "{");
    if (n_meta > 0) {
        dc__sb_puts(b, "\"__metadata__\":{");
        for (int64_t i = 0; i < n_meta && s == DC_OK; i++) {
            if (i) dc__sb_puts(b, ",");
            s = dc__json_write_string(b, meta_keys[i], false, func, "metadata key");
            dc__sb_puts(b, ":");
            if (s == DC_OK)
                s = dc__json_write_string(b, meta_values[i], true, func, "metadata value");
        }
        dc__sb_puts(b, n > 0 ? "}," : "}");
    }
    uint64_t offset = 0;
    for (int64_t i = 0; i < n && s == DC_OK; i++) {
        const dc_tensor *t = tensors[i];
        if (i) dc__sb_puts(b, ",");
        s = dc__json_write_string(b, names[i], false, func, "tensor name");
        dc__sb_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            dc__sb_printf(b, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        uint64_t nbytes = (uint64_t)t->numel * dc_dtype_size(t->dtype);
        dc__sb_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                      (unsigned long long)offset + nbytes);
        offset += nbytes;
    }
    dc__sb_puts(b, "}");
    dc__sb_append(b, "       ", (8 - b->len % 8) % 8);   /* no loop: appends may fail */
    if (s == DC_OK && b->failed) s = dc_last_status();
    if (s == DC_OK && b->len > ST_MAX_HEADER)
        s = dc__fail(DC_E_OVERFLOW, "%s: the header would be %zu bytes, over the 100 MB limit",
                     func, b->len);
    return s;
}

_Thread_local long dc__io_fault_countdown = 0;

/* True when the injected failure (dc__io_fault_countdown) is due now. */
static bool injected_io_fault(void) {
    if (dc__io_fault_countdown <= 0 || --dc__io_fault_countdown > 0) return false;
    errno = EIO;
    return true;
}

static dc_status write_all(int fd, const void *p, size_t n, const char *func, const char *tmp) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = injected_io_fault() ? -1 : write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return dc__fail(DC_E_IO, "%s: writing '%s': %s", func, tmp, DC__ERRNO_TEXT(errno));
        }
        c += w;
        n -= (size_t)w;
    }
    return DC_OK;
}

/* Writes t's elements in row-major order, little-endian. */
static dc_status write_tensor(int fd, const dc_tensor *t, const char *func, const char *tmp) {
    size_t nbytes = (size_t)t->numel * dc_dtype_size(t->dtype);
    if (nbytes == 0) return DC_OK;
    if (dc__tensor_is_contiguous(t) && host_is_le())
        return write_all(fd, dc__tensor_data(t), nbytes, func, tmp);
    dc_tensor *c = dc__copy_contiguous(t);
    if (!c) return dc_last_status();
    if (!host_is_le()) swap_elements(dc__tensor_data(c), dc_dtype_size(c->dtype), c->numel);
    dc_status s = write_all(fd, dc__tensor_data(c), nbytes, func, tmp);
    dc_release(c);
    return s;
}

/* Makes a new file's name durable: best effort, a failure is not an error
 * (some file systems refuse to sync directories). Allocates nothing, so
 * that a save that has succeeded records no error. */
static void sync_parent_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (len >= sizeof dir) return;
    if (!slash) dir[0] = '.';
    else memcpy(dir, path, len);
    dir[len] = '\0';
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The temporary file's name: path, this suffix, then the six placeholder
 * characters ('X') that mkstemp replaces with a unique string. */
#define TMP_SUFFIX ".tmp-"
#define MKSTEMP_PLACEHOLDERS 6

/* Writes header and tensors to a temporary file beside path (path +
 * TMP_SUFFIX + a unique string), syncs it and renames it over path. On
 * failure the temporary file is removed and path is not touched. */
static dc_status write_atomically(const char *path, const dc_strbuf *hdr,
                                  dc_tensor *const *tensors, int64_t n, const char *func) {
    size_t plen = strlen(path), slen = sizeof TMP_SUFFIX - 1;
    char *tmp = dc__malloc(plen + slen + MKSTEMP_PLACEHOLDERS + 1);
    if (!tmp) return DC_E_NOMEM;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, TMP_SUFFIX, slen);
    memset(tmp + plen + slen, 'X', MKSTEMP_PLACEHOLDERS);
    tmp[plen + slen + MKSTEMP_PLACEHOLDERS] = '\0';
    int fd = mkstemp(tmp);
    if (fd < 0) {
        dc_status s = dc__fail(DC_E_IO, "%s: cannot create a temporary file beside '%s': %s",
                               func, path, DC__ERRNO_TEXT(errno));
        dc__free(tmp);
        return s;
    }
    /* mkstemp makes the file 0600: keep the mode of the file replaced, or
     * use the usual 0644 for a new one. */
    struct stat sb;
    mode_t mode = stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644;
    dc_status s = DC_OK;
    if (fchmod(fd, mode) != 0)
        s = dc__fail(DC_E_IO, "%s: chmod '%s': %s", func, tmp, DC__ERRNO_TEXT(errno));
    unsigned char len8[8];
    store_le64(len8, hdr->len);
    if (s == DC_OK) s = write_all(fd, len8, 8, func, tmp);
    if (s == DC_OK) s = write_all(fd, hdr->data, hdr->len, func, tmp);
    for (int64_t i = 0; i < n && s == DC_OK; i++) s = write_tensor(fd, tensors[i], func, tmp);
    if (s == DC_OK && (injected_io_fault() || fsync(fd) != 0))
        s = dc__fail(DC_E_IO, "%s: fsync '%s': %s", func, tmp, DC__ERRNO_TEXT(errno));
    if (close(fd) != 0 && s == DC_OK)
        s = dc__fail(DC_E_IO, "%s: closing '%s': %s", func, tmp, DC__ERRNO_TEXT(errno));
    if (s == DC_OK && (injected_io_fault() || rename(tmp, path) != 0))
        s = dc__fail(DC_E_IO, "%s: renaming '%s' to '%s': %s", func, tmp, path,
                     DC__ERRNO_TEXT(errno));
    if (s != DC_OK) unlink(tmp);
    else sync_parent_dir(path);
    dc__free(tmp);
    return s;
}

static dc_status save_impl(const char *path, const char *const *names, dc_tensor *const *tensors,
                           int64_t n, const char *const *meta_keys,
                           const char *const *meta_values, int64_t n_meta, const char *func) {
    dc_status s = check_save_args(path, names, tensors, n, meta_keys, meta_values, n_meta, func);
    if (s != DC_OK) return s;
    dc_strbuf hdr = {0};
    s = build_header(&hdr, names, tensors, n, meta_keys, meta_values, n_meta, func);
    if (s == DC_OK) s = write_atomically(path, &hdr, tensors, n, func);
    dc__sb_free(&hdr);
    return s;
}

dc_status dc_safetensors_save(const char *path, const char *const *names,
                              dc_tensor *const *tensors, int64_t n,
                              const char *const *meta_keys, const char *const *meta_values,
                              int64_t n_meta) {
    return save_impl(path, names, tensors, n, meta_keys, meta_values, n_meta,
                     "dc_safetensors_save");
}

/* ---------------------------------------------------------------- */
/* Modules                                                           */
/* ---------------------------------------------------------------- */

dc_status dc_module_save(dc_module *m, const char *path) {
    if (!dc__is_module(m))
        return dc__fail(DC_E_INVALID, "dc_module_save: 'module' is %s",
                        m ? "not a live module" : "NULL");
    int64_t n = m->n_flat;
    const char **names = dc__malloc((size_t)(n ? n : 1) * sizeof *names);
    dc_tensor **tensors = dc__malloc((size_t)(n ? n : 1) * sizeof *tensors);
    dc_status s = DC_E_NOMEM;
    if (names && tensors) {
        for (int64_t i = 0; i < n; i++) {
            names[i] = m->flat[i].name;
            tensors[i] = m->flat[i].tensor;
        }
        s = save_impl(path, names, tensors, n, NULL, NULL, 0, "dc_module_save");
    }
    dc__free(names);
    dc__free(tensors);
    return s;
}

static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && d < DC_MAX_DIMS && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (ndim > DC_MAX_DIMS && len < cap) len += (size_t)snprintf(buf + len, cap - len, ", ...");
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

static bool same_shape(const st_entry *e, const dc_tensor *t) {
    if (e->ndim != t->ndim) return false;
    for (int d = 0; d < t->ndim; d++)
        if (e->shape[d] != t->shape[d]) return false;
    return true;
}

/* prefix + name in a new string. */
static char *join(const char *prefix, const char *name) {
    size_t a = strlen(prefix), b = strlen(name);
    char *s = dc__malloc(a + b + 1);
    if (s) {
        memcpy(s, prefix, a);
        memcpy(s + a, name, b);
        s[a + b] = '\0';
    }
    return s;
}

/* Strict mode: the first file entry under prefix that the module lacks. */
static dc_status check_unexpected(const dc_module *m, const dc_safetensors *st,
                                  const char *prefix, const char *func) {
    size_t plen = strlen(prefix);
    const char **names = dc__malloc((size_t)(m->n_flat ? m->n_flat : 1) * sizeof *names);
    if (!names) return DC_E_NOMEM;
    for (int64_t i = 0; i < m->n_flat; i++) names[i] = m->flat[i].name;
    qsort(names, (size_t)m->n_flat, sizeof *names, cmp_str_ptr);
    dc_status s = DC_OK;
    for (int64_t i = 0; i < st->n && s == DC_OK; i++) {
        const char *full = st->entries[i].name;
        if (strncmp(full, prefix, plen) != 0) continue;
        const char *local = full + plen;
        if (!bsearch(&local, names, (size_t)m->n_flat, sizeof *names, cmp_str_ptr))
            s = dc__fail(DC_E_FORMAT, "%s: unexpected key '%.80s' (in the file, not in the %s)",
                         func, full, m->vt->kind);
    }
    dc__free(names);
    return s;
}

void dc__st_plan_free(dc__st_plan *plan) {
    for (int64_t i = 0; plan->src && i < plan->n; i++) dc_release(plan->src[i]);
    dc__free(plan->src);
    dc__free(plan->dst);
    plan->src = plan->dst = NULL;
    plan->n = 0;
}

/* Checks one module entry against the file and, when it is there, adds
 * the copy to the plan. */
static dc_status plan_entry(dc__st_plan *plan, const dc_safetensors *st, const dc_state_entry *se,
                            const char *prefix, int strict, const char *func, const char *kind) {
    char *full = join(prefix, se->name);
    if (!full) return DC_E_NOMEM;
    const st_entry *e = find_entry(st, full);
    dc_status s = DC_OK;
    if (!e) {
        if (strict)
            s = dc__fail(DC_E_FORMAT, "%s: missing key '%.80s' (in the %s, not in the file)", func,
                         full, kind);
    } else if (!same_shape(e, se->tensor)) {
        char fs[128], ms[128];
        format_shape(fs, sizeof fs, e->ndim, e->shape);
        format_shape(ms, sizeof ms, se->tensor->ndim, se->tensor->shape);
        s = dc__fail(DC_E_SHAPE, "%s: '%.80s' has shape %s in the file, %s in the %s", func, full,
                     fs, ms, kind);
    } else {
        dc_tensor *src = entry_tensor(st, e, func);
        if (!src) s = dc_last_status();
        else {
            plan->dst[plan->n] = se->tensor;
            plan->src[plan->n++] = src;
        }
    }
    dc__free(full);
    return s;
}

dc_status dc__st_plan_module(dc__st_plan *plan, dc_module *m, const dc_safetensors *st,
                             const char *prefix, int strict, const char *func) {
    plan->n = 0;
    plan->dst = dc__malloc((size_t)(m->n_flat ? m->n_flat : 1) * sizeof *plan->dst);
    plan->src = dc__malloc((size_t)(m->n_flat ? m->n_flat : 1) * sizeof *plan->src);
    if (!plan->dst || !plan->src) {
        dc__st_plan_free(plan);
        return DC_E_NOMEM;
    }
    dc_status s = DC_OK;
    for (int64_t i = 0; i < m->n_flat && s == DC_OK; i++)
        s = plan_entry(plan, st, &m->flat[i], prefix, strict, func, m->vt->kind);
    if (s == DC_OK && strict) s = check_unexpected(m, st, prefix, func);
    if (s != DC_OK) dc__st_plan_free(plan);
    return s;
}

void dc__st_plan_apply(const dc__st_plan *plan) {
    for (int64_t i = 0; i < plan->n; i++) {
        dc__copy_elements(plan->dst[i], plan->src[i]);
        dc__bump_version(plan->dst[i]);
    }
}

static dc_status load_module(dc_module *m, dc_safetensors *st, int strict, const char *func) {
    dc__st_plan plan;
    dc_status s = dc__st_plan_module(&plan, m, st, "", strict, func);
    if (s == DC_OK) {
        dc__st_plan_apply(&plan);
        dc__st_plan_free(&plan);
    }
    return s;
}

dc_status dc_module_load(dc_module *m, const char *path, int strict) {
    if (!dc__is_module(m))
        return dc__fail(DC_E_INVALID, "dc_module_load: 'module' is %s",
                        m ? "not a live module" : "NULL");
    dc_safetensors *st = dc__st_open(path, "dc_module_load");
    if (!st) return dc_last_status();
    dc_status s = load_module(m, st, strict, "dc_module_load");
    dc_safetensors_close(st);
    return s;
}

dc_status dc_module_load_buffer(dc_module *m, const void *data, size_t size, int strict) {
    if (!dc__is_module(m))
        return dc__fail(DC_E_INVALID, "dc_module_load_buffer: 'module' is %s",
                        m ? "not a live module" : "NULL");
    if (!data && size > 0)
        return dc__fail(DC_E_INVALID, "dc_module_load_buffer: 'data' is NULL");
    unsigned char *copy = dc__malloc(size);
    if (!copy) return DC_E_NOMEM;
    if (size) memcpy(copy, data, size);
    dc_safetensors *st = parse_owned(copy, size, "dc_module_load_buffer");
    if (!st) return dc_last_status();
    dc_status s = load_module(m, st, strict, "dc_module_load_buffer");
    dc_safetensors_close(st);
    return s;
}

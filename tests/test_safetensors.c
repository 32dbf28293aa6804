/* safetensors files, module state dicts and training checkpoints.
 *
 * Fixtures (tests/fixtures/gen_safetensors.py, with its own writer of the
 * format and torch for the f16/bf16 values): st_reference.safetensors
 * (reference ordering, every dtype, f16/bf16 specials) and the values we
 * must read from it (st_reference_expect.bin); st_compat.safetensors, the
 * bytes the script writes for the dict compat_save() builds here. The
 * script reads back a file written by this suite (see its docstring). */
#include "testutil.h"

#include "nn/module.h"
#include "io/io_internal.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

static void tmpdir_make(char dir[64]) {
    snprintf(dir, 64, "/tmp/dc_st_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void tmpdir_remove(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Entries of dir other than . and .. */
static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static const char *fixture_path(const char *name, char *buf, size_t cap) {
    const char *dir = getenv("DC_FIXTURE_DIR");
    snprintf(buf, cap, "%s/%s", dir ? dir : "tests/fixtures", name);
    return buf;
}

/* 8-byte length + json + dlen bytes of data (zeros when data is NULL). */
static unsigned char *make_buf(const char *json, size_t jlen, const void *data, size_t dlen,
                               size_t *n) {
    *n = 8 + jlen + dlen;
    unsigned char *b = calloc(1, *n);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)jlen >> (8 * i));
    memcpy(b + 8, json, jlen);
    if (data) memcpy(b + 8 + jlen, data, dlen);
    return b;
}

static dc_safetensors *open_json(const char *json, const void *data, size_t dlen) {
    size_t n;
    unsigned char *b = make_buf(json, strlen(json), data, dlen, &n);
    dc_safetensors *st = dc_safetensors_from_buffer(b, n);
    free(b);
    return st;
}

/* Raw bytes of t in its own dtype (row-major). */
static void *tensor_bytes(const dc_tensor *t, size_t *n) {
    *n = (size_t)dc_numel(t) * dc_dtype_size(dc_tensor_dtype(t));
    void *b = malloc(*n ? *n : 1);
    ck_assert_ptr_nonnull(b);
    TU_OK(dc_copy_to(t, dc_tensor_dtype(t), b, *n));
    return b;
}

/* Same dtype, shape and bytes. */
static void assert_same_tensor(const dc_tensor *a, const dc_tensor *b) {
    ck_assert_int_eq(dc_tensor_dtype(a), dc_tensor_dtype(b));
    tu_assert_shape(a, dc_ndim(b), dc_shape(b));
    size_t na, nb;
    void *ba = tensor_bytes(a, &na), *bb = tensor_bytes(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(ba, bb, na) == 0, "tensor bytes differ");
    free(ba);
    free(bb);
}

static dc_tensor *typed(dc_dtype dt, int ndim, const int64_t *shape, const double *v) {
    dc_tensor *t = dc_empty(dt, ndim, shape);
    TU_NOTNULL(t);
    TU_OK(dc_copy_from(t, DC_F64, v, (size_t)dc_numel(t) * sizeof(double)));
    return t;
}

static dc_tensor *typed_or_null(dc_dtype dt, int ndim, const int64_t *shape, const double *v) {
    dc_tensor *t = dc_empty(dt, ndim, shape);
    if (t && dc_copy_from(t, DC_F64, v, (size_t)dc_numel(t) * sizeof(double)) != DC_OK) return NULL;
    return t;
}

/* ---------------------------------------------------------------- */
/* Round trips                                                       */
/* ---------------------------------------------------------------- */

#define N_RT 10

static void make_roundtrip_set(dc_tensor **ts, const char **names) {
    static const double v6[] = {0.5, -1.25, 1e-30, 3.0e38, -0.0, 7};
    static const double ints[] = {-2147483648.0, 2147483647.0, 0, -1, 5, 9};
    static const double bytes[] = {0, 1, 255, 128, 7, 3};
    static const double bools[] = {1, 0, 0, 1, 1, 0};
    int64_t s23[] = {2, 3}, s6[] = {6}, s03[] = {0, 3}, s321[] = {3, 2, 1};
    static const char *nm[N_RT] = {"f32", "f64", "i32", "i64", "u8", "bool",
                                   "scalar", "empty", "noncontig", "deep.name.0"};
    ts[0] = typed(DC_F32, 2, s23, v6);
    ts[1] = typed(DC_F64, 1, s6, v6);
    ts[2] = typed(DC_I32, 2, s23, ints);
    int64_t big[] = {INT64_MIN, INT64_MAX, -1, 0, 1, 4611686018427387905LL};
    ts[3] = dc_from_data(DC_I64, 1, s6, big);
    ts[4] = typed(DC_U8, 3, s321, bytes);
    ts[5] = typed(DC_BOOL, 2, s23, bools);
    ts[6] = dc_scalar(DC_F64, -3.25);
    ts[7] = dc_zeros(DC_F32, 2, s03);
    ts[8] = tu_noncontig(ts[0]);
    ts[9] = dc_arange(DC_I64, 0, 6, 1);
    for (int i = 0; i < N_RT; i++) {
        TU_NOTNULL(ts[i]);
        names[i] = nm[i];
    }
}

static void check_roundtrip(const dc_safetensors *st, dc_tensor **ts, const char **names) {
    TU_NOTNULL(st);
    ck_assert_int_eq(dc_safetensors_count(st), N_RT);
    for (int i = 0; i < N_RT; i++) {
        ck_assert_str_eq(dc_safetensors_name(st, i), names[i]);   /* caller's order */
        dc_tensor *t = dc_safetensors_get(st, names[i]);
        TU_NOTNULL(t);
        assert_same_tensor(t, ts[i]);
    }
    ck_assert_str_eq(dc_safetensors_metadata(st, "k"), "v");
    ck_assert_str_eq(dc_safetensors_metadata(st, "empty"), "");
}

START_TEST(roundtrip_every_dtype) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    dc_scope *s = dc_scope_begin();
    dc_tensor *ts[N_RT];
    const char *names[N_RT];
    make_roundtrip_set(ts, names);
    const char *keys[] = {"k", "empty"}, *vals[] = {"v", ""};
    TU_OK(dc_safetensors_save(path, names, ts, N_RT, keys, vals, 2));
    ck_assert_int_eq(dir_entries(dir), 1);   /* no temporary left behind */

    dc_safetensors *st = dc_safetensors_open(path);
    check_roundtrip(st, ts, names);
    dc_safetensors_close(st);

    size_t n;
    unsigned char *bytes = slurp(path, &n);
    /* header length is a multiple of 8: the data region is aligned */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | bytes[i];
    ck_assert_uint_eq(hlen % 8, 0);
    ck_assert_int_eq(bytes[8 + hlen - 1] == ' ' || bytes[8 + hlen - 1] == '}', 1);
    st = dc_safetensors_from_buffer(bytes, n);
    memset(bytes, 0xee, n);   /* the parsed copy is independent */
    free(bytes);
    check_roundtrip(st, ts, names);
    dc_safetensors_close(st);
    dc_scope_end(s);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(roundtrip_nothing) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/none.safetensors", dir);
    TU_OK(dc_safetensors_save(path, NULL, NULL, 0, NULL, NULL, 0));
    size_t n;
    unsigned char *b = slurp(path, &n);
    /* "{}" padded with spaces to 8 bytes, as the reference writes it */
    static const unsigned char want[] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    ck_assert_uint_eq(n, sizeof want);
    ck_assert_int_eq(memcmp(b, want, n), 0);
    dc_safetensors *st = dc_safetensors_from_buffer(b, n);
    TU_NOTNULL(st);
    ck_assert_int_eq(dc_safetensors_count(st), 0);
    TU_NULL_WITH(dc_safetensors_metadata(st, "x"), DC_E_RANGE);
    dc_safetensors_close(st);
    free(b);
    tmpdir_remove(dir);
}
END_TEST

/* The dict gen_safetensors.py's compat_items() and COMPAT_META hold. */
static dc_status compat_save(const char *path) {
    int64_t s23[] = {2, 3}, s2[] = {2}, s3[] = {3}, s21[] = {2, 1}, s20[] = {2, 0}, s1[] = {1};
    static const double w[] = {0.5, -1.25, 2.0, 3.75, -0.0, 1024.0};
    static const double d[] = {1.0 / 3.0, -1e300};
    static const double i[] = {-5, 7, 2147483647};
    static const int64_t l[] = {-1, 4294967296LL};
    static const double u[] = {200, 0, 9};
    static const double b[] = {1, 0};
    static const int64_t q[] = {7};
    /* also runs with failing allocations: no asserts, NULL is an error */
    dc_tensor *ts[9] = {
        typed_or_null(DC_F32, 2, s23, w), typed_or_null(DC_F64, 1, s2, d),
        typed_or_null(DC_I32, 1, s3, i), dc_from_data(DC_I64, 2, s21, l),
        typed_or_null(DC_U8, 1, s3, u), typed_or_null(DC_BOOL, 1, s2, b),
        dc_scalar(DC_F32, -2.0), dc_zeros(DC_F64, 2, s20), dc_from_data(DC_I64, 1, s1, q),
    };
    for (int k = 0; k < 9; k++)
        if (!ts[k]) return dc_last_status();
    const char *names[9] = {"w", "d", "i", "l", "u", "b", "s", "e", "\xce\xb1.q\"\\/x"};
    const char *keys[] = {"note", "step"};
    const char *vals[] = {"tab\there \"q\" \xc3\xa9\xe2\x9c\x93\n\x01", "12"};
    return dc_safetensors_save(path, names, ts, 9, keys, vals, 2);
}

START_TEST(bytes_equal_reference_writer) {
    char dir[64], path[128], fx[512];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/ours.safetensors", dir);
    dc_scope *s = dc_scope_begin();
    TU_OK(compat_save(path));
    const char *keep = getenv("DC_ST_OUT");   /* for gen_safetensors.py --check */
    if (keep) TU_OK(compat_save(keep));
    dc_scope_end(s);
    size_t n_ours, n_ref;
    unsigned char *ours = slurp(path, &n_ours);
    unsigned char *ref = slurp(fixture_path("st_compat.safetensors", fx, sizeof fx), &n_ref);
    ck_assert_uint_eq(n_ours, n_ref);
    ck_assert_msg(memcmp(ours, ref, n_ref) == 0, "our bytes differ from the Python writer's");
    free(ours);
    free(ref);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(reads_reference_file) {
    char fx[512];
    dc_safetensors *st = dc_safetensors_open(fixture_path("st_reference.safetensors", fx, sizeof fx));
    TU_NOTNULL(st);
    ck_assert_int_eq(dc_safetensors_count(st), 11);
    ck_assert_str_eq(dc_safetensors_name(st, 0), "i64");   /* the reference's order */
    ck_assert_str_eq(dc_safetensors_metadata(st, "format"), "pt");
    struct {
        const char *name;
        dc_dtype dtype;
        int ndim;
        int64_t shape[2];
    } want[] = {
        {"f32", DC_F32, 2, {2, 3}}, {"f64", DC_F64, 1, {4}}, {"f16", DC_F32, 2, {3, 4}},
        {"bf16", DC_F32, 1, {12}}, {"i32", DC_I32, 2, {2, 2}}, {"i64", DC_I64, 1, {3}},
        {"u8", DC_U8, 1, {5}}, {"bool", DC_BOOL, 2, {2, 3}}, {"scalar", DC_F32, 0, {0}},
        {"empty", DC_F32, 2, {0, 3}}, {"layer.0.weight", DC_F32, 2, {3, 2}},
    };
    size_t total = 231;   /* size of st_reference_expect.bin */
    unsigned char *expect = tu_read_fixture("st_reference_expect.bin", total);
    size_t off = 0;
    dc_scope *s = dc_scope_begin();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        dc_tensor *t = dc_safetensors_get(st, want[i].name);
        TU_NOTNULL(t);
        ck_assert_int_eq(dc_tensor_dtype(t), want[i].dtype);
        tu_assert_shape(t, want[i].ndim, want[i].shape);
        size_t n;
        unsigned char *b = tensor_bytes(t, &n);
        ck_assert_uint_le(off + n, total);
        /* bitwise: f16/bf16 specials (-0, subnormals, inf, NaN) included */
        ck_assert_msg(memcmp(b, expect + off, n) == 0, "values of '%s' differ", want[i].name);
        off += n;
        free(b);
    }
    ck_assert_uint_eq(off, total);
    dc_scope_end(s);
    free(expect);
    dc_safetensors_close(st);
}
END_TEST

/* Half and bfloat16 bit patterns with values worked out by hand. */
START_TEST(half_conversions_by_hand) {
    static const uint16_t h[] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400, 0x7bff,
                                 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x3555, 0x8001};
    static const uint16_t bf[] = {0x3f80, 0xc040, 0x0001, 0x007f, 0x0080, 0x7f7f,
                                  0x7f80, 0xff80, 0x7fc0, 0x8000, 0x3eab, 0x8001};
    const float want_h[] = {1.0f, -2.0f, ldexpf(1, -24), ldexpf(1023, -24), ldexpf(1, -14),
                            65504.0f, INFINITY, -INFINITY, NAN, -0.0f,
                            0.333251953125f, -ldexpf(1, -24)};
    const float want_bf[] = {1.0f, -3.0f, ldexpf(1, -133), ldexpf(127, -133), ldexpf(1, -126),
                             ldexpf(255, 120), INFINITY, -INFINITY, NAN, -0.0f,
                             0.333984375f, -ldexpf(1, -133)};
    unsigned char data[48];
    for (int i = 0; i < 12; i++) {
        data[2 * i] = (unsigned char)h[i];
        data[2 * i + 1] = (unsigned char)(h[i] >> 8);
        data[24 + 2 * i] = (unsigned char)bf[i];
        data[24 + 2 * i + 1] = (unsigned char)(bf[i] >> 8);
    }
    dc_safetensors *st = open_json("{\"h\":{\"dtype\":\"F16\",\"shape\":[12],\"data_offsets\":[0,24]},"
                                   "\"b\":{\"shape\":[2,6],\"data_offsets\":[24,48],\"dtype\":\"BF16\"}}",
                                   data, sizeof data);
    TU_NOTNULL(st);
    dc_tensor *th = dc_safetensors_get(st, "h"), *tb = dc_safetensors_get(st, "b");
    TU_NOTNULL(th);
    TU_NOTNULL(tb);
    ck_assert_int_eq(dc_tensor_dtype(th), DC_F32);
    ck_assert_int_eq(dc_tensor_dtype(tb), DC_F32);
    const float *ph = dc_data_ptr(th), *pb = dc_data_ptr(tb);
    for (int i = 0; i < 12; i++) {
        if (isnan(want_h[i])) ck_assert(isnan(ph[i]));
        else ck_assert_msg(ph[i] == want_h[i] && signbit(ph[i]) == signbit(want_h[i]),
                           "f16 %04x: %a, want %a", h[i], ph[i], want_h[i]);
        if (isnan(want_bf[i])) ck_assert(isnan(pb[i]));
        else ck_assert_msg(pb[i] == want_bf[i] && signbit(pb[i]) == signbit(want_bf[i]),
                           "bf16 %04x: %a, want %a", bf[i], pb[i], want_bf[i]);
    }
    dc_release(th);
    dc_release(tb);
    dc_safetensors_close(st);
}
END_TEST

START_TEST(lenient_where_the_format_allows) {
    /* unknown keys skipped, whitespace, escapes in names, null metadata,
     * a BOOL byte other than 0/1 read as true, tensors out of offset order */
    unsigned char data[] = {2, 0, 7, 0, 0, 5};
    dc_safetensors *st = open_json(
        " {\"__metadata__\" : null, \"b\\u00e9\\ud83d\\ude00\" : {\"extra\": [1, {\"x\": null}, "
        "true, -1.5e3], \"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[4,6]},"
        "\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}\n ",
        data, sizeof data);
    TU_NOTNULL(st);
    ck_assert_str_eq(dc_safetensors_name(st, 0), "b\xc3\xa9\xf0\x9f\x98\x80");
    dc_tensor *b = dc_safetensors_get(st, "b\xc3\xa9\xf0\x9f\x98\x80");
    TU_NOTNULL(b);
    tu_assert_values(b, (const double[]){0, 1}, 2, 0, 0);
    dc_tensor *a = dc_safetensors_get(st, "a");
    TU_NOTNULL(a);
    tu_assert_values(a, (const double[]){458754}, 1, 0, 0);   /* 0x00070002 */
    dc_release(a);
    dc_release(b);
    dc_safetensors_close(st);
}
END_TEST

START_TEST(unreadable_entries) {
    /* a dtype the format has and we do not read, and more dims than 8:
     * the file opens, that tensor is DC_E_UNSUPPORTED */
    dc_safetensors *st = open_json(
        "{\"s\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]},"
        "\"n\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[4,5]},"
        "\"ok\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[5,8]}}",
        NULL, 8);
    TU_NOTNULL(st);
    TU_NULL_WITH(dc_safetensors_get(st, "s"), DC_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "I16"));
    TU_NULL_WITH(dc_safetensors_get(st, "n"), DC_E_UNSUPPORTED);
    dc_tensor *t = dc_safetensors_get(st, "ok");
    TU_NOTNULL(t);
    dc_release(t);
    dc_safetensors_close(st);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Hostile input                                                     */
/* ---------------------------------------------------------------- */

static const struct {
    const char *what;
    const char *json;
    size_t data;
} hostile[] = {
    {"empty header", "", 0},
    {"not json", "{\"a\":", 0},
    {"not an object", "[]", 0},
    {"trailing text", "{} x", 0},
    {"entry not an object", "{\"a\":1}", 0},
    {"unknown dtype", "{\"a\":{\"dtype\":\"F7\",\"shape\":[],\"data_offsets\":[0,4]}}", 4},
    {"dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", 4},
    {"shape not an array", "{\"a\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,12]}}", 12},
    {"negative size", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0},
    {"fraction", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4},
    {"exponent", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4},
    {"leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4},
    {"string size", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4},
    {"shape overflow",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", 0},
    {"huge shape",
     "{\"a\":{\"dtype\":\"F64\",\"shape\":[9223372036854775807],\"data_offsets\":[0,8]}}", 8},
    {"byte count overflow",
     "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0},
    {"integer out of range",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 1},
    {"offsets reversed", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4},
    {"offsets past the end", "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 4},
    {"negative offset", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 1},
    {"three offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 2},
    {"one offset", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1]}}", 1},
    {"size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4},
    {"overlap",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6},
    {"same span twice",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
     "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4},
    {"gap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4},
    {"uncovered tail", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 4},
    {"duplicate name",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
     "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2},
    {"duplicate key",
     "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
    {"no dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1},
    {"no shape", "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1},
    {"no offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1},
    {"metadata not an object", "{\"__metadata__\":[]}", 0},
    {"metadata value not a string", "{\"__metadata__\":{\"a\":1}}", 0},
    {"duplicate metadata key", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0},
    {"two metadata objects", "{\"__metadata__\":{},\"__metadata__\":{}}", 0},
    {"invalid UTF-8", "{\"\xff\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"overlong UTF-8", "{\"\xc0\xaf\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"UTF-8 surrogate", "{\"\xed\xa0\x80\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"truncated UTF-8", "{\"\xe2\x9c\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"lone surrogate escape", "{\"\\ud800\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"lone low surrogate", "{\"\\udc00x\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"NUL escape", "{\"a\\u0000\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"bad escape", "{\"a\\q\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"bad hex escape", "{\"\\u12g4\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"raw control character", "{\"a\tb\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"unterminated string", "{\"abc", 0},
    {"escape at the end", "{\"abc\\", 0},
    {"bad literal", "{\"a\":{\"x\":nul,\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"bare minus", "{\"a\":{\"x\":-,\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"missing comma", "{\"a\":{\"dtype\":\"U8\" \"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    {"trailing comma", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},}", 0},
    {"single quotes", "{'a':1}", 0},
};

START_TEST(hostile_table) {
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        size_t n;
        unsigned char *b = make_buf(hostile[i].json, strlen(hostile[i].json), NULL,
                                    hostile[i].data, &n);
        dc_clear_error();
        dc_safetensors *st = dc_safetensors_from_buffer(b, n);
        ck_assert_msg(st == NULL, "'%s' was accepted", hostile[i].what);
        ck_assert_msg(dc_last_status() == DC_E_FORMAT, "'%s': %s (%s)", hostile[i].what,
                      dc_status_str(dc_last_status()), dc_last_error());
        ck_assert_ptr_nonnull(strstr(dc_last_error(), "dc_safetensors_from_buffer"));
        /* every proper prefix of it fails too (and is not read past) */
        for (size_t cut = 0; cut < n; cut += 1 + cut / 4) {
            unsigned char *p = malloc(cut ? cut : 1);
            memcpy(p, b, cut);
            dc_clear_error();
            dc_safetensors *t = dc_safetensors_from_buffer(p, cut);
            if (t) dc_safetensors_close(t);
            else ck_assert_int_eq(dc_last_status(), DC_E_FORMAT);
            free(p);
        }
        free(b);
    }
}
END_TEST

START_TEST(hostile_header_lengths) {
    unsigned char b[16] = {0};
    TU_NULL_WITH(dc_safetensors_from_buffer(b, 0), DC_E_FORMAT);
    TU_NULL_WITH(dc_safetensors_from_buffer(b, 7), DC_E_FORMAT);
    b[0] = 100;   /* past the end */
    TU_NULL_WITH(dc_safetensors_from_buffer(b, sizeof b), DC_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "past the end"));
    memset(b, 0, 8);
    b[7] = 0x80;  /* 2^63 */
    TU_NULL_WITH(dc_safetensors_from_buffer(b, sizeof b), DC_E_FORMAT);
    memset(b, 0xff, 8);   /* 2^64 - 1: 8 + N wraps around */
    TU_NULL_WITH(dc_safetensors_from_buffer(b, sizeof b), DC_E_FORMAT);
    memset(b, 0, 8);
    b[3] = 0x10;  /* 256 MiB: over the limit whatever follows */
    TU_NULL_WITH(dc_safetensors_from_buffer(b, sizeof b), DC_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "100 MB"));
    memset(b, 0, sizeof b);
    b[0] = 8;     /* 8 NUL bytes of "JSON" */
    TU_NULL_WITH(dc_safetensors_from_buffer(b, sizeof b), DC_E_FORMAT);
}
END_TEST

/* Nesting 10^5 deep, in each place a value can nest. */
START_TEST(hostile_deep_nesting) {
    const int depth = 100000;
    const char *heads[] = {"", "{\"a\":{\"x\":", "{\"__metadata__\":{\"a\":",
                           "{\"a\":{\"dtype\":\"U8\",\"shape\":"};
    const char *units[] = {"[", "{\"k\":"};
    for (size_t h = 0; h < 4; h++)
        for (int u = 0; u < 2; u++) {
            size_t hl = strlen(heads[h]), ul = strlen(units[u]);
            char *json = malloc(hl + (size_t)depth * ul + 1);
            memcpy(json, heads[h], hl);
            for (int i = 0; i < depth; i++) memcpy(json + hl + (size_t)i * ul, units[u], ul);
            size_t n;
            unsigned char *b = make_buf(json, hl + (size_t)depth * ul, NULL, 0, &n);
            TU_NULL_WITH(dc_safetensors_from_buffer(b, n), DC_E_FORMAT);
            free(b);
            free(json);
        }
}
END_TEST

/* Many entries: duplicates are found by sorting, not by comparing all
 * pairs (which would take minutes here). */
START_TEST(hostile_many_names) {
    const int n = 200000;
    char *json = malloc((size_t)n * 64 + 16);
    size_t len = 0;
    json[len++] = '{';
    for (int i = 0; i < n; i++)
        len += (size_t)sprintf(json + len, "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[0],"
                               "\"data_offsets\":[0,0]}", i ? "," : "", i == n - 1 ? 0 : i);
    json[len++] = '}';
    size_t sz;
    unsigned char *b = make_buf(json, len, NULL, 0, &sz);
    TU_NULL_WITH(dc_safetensors_from_buffer(b, sz), DC_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "duplicate"));
    free(b);
    free(json);
}
END_TEST

START_TEST(bad_arguments) {
    TU_NULL_WITH(dc_safetensors_from_buffer(NULL, 8), DC_E_INVALID);
    TU_NULL_WITH(dc_safetensors_open(NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_safetensors_open("/nonexistent/dc_st/x.safetensors"), DC_E_IO);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), strerror(ENOENT)));
    TU_NULL_WITH(dc_safetensors_open("/tmp"), DC_E_IO);   /* a directory */
    dc_clear_error();
    ck_assert_int_eq(dc_safetensors_count(NULL), -1);
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
    TU_NULL_WITH(dc_safetensors_name(NULL, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_safetensors_get(NULL, "a"), DC_E_INVALID);
    TU_NULL_WITH(dc_safetensors_metadata(NULL, "a"), DC_E_INVALID);
    dc_safetensors_close(NULL);

    dc_safetensors *st = open_json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
                                   NULL, 1);
    TU_NOTNULL(st);
    TU_NULL_WITH(dc_safetensors_name(st, 1), DC_E_RANGE);
    TU_NULL_WITH(dc_safetensors_name(st, -1), DC_E_RANGE);
    TU_NULL_WITH(dc_safetensors_get(st, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_safetensors_get(st, "b"), DC_E_RANGE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "'b'"));
    TU_NULL_WITH(dc_safetensors_metadata(st, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_safetensors_metadata(st, "a"), DC_E_RANGE);
    dc_safetensors_close(st);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Saving: bad input and crash safety                                */
/* ---------------------------------------------------------------- */

START_TEST(save_bad_input) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = dc_zeros(DC_F32, 0, NULL);
    dc_tensor *ts[2] = {t, t};
    const char *ok[2] = {"a", "b"};
    const char *k[1] = {"k"}, *v[1] = {"v"};
    TU_FAILS(dc_safetensors_save(NULL, ok, ts, 2, NULL, NULL, 0), DC_E_INVALID);
    TU_FAILS(dc_safetensors_save(path, ok, ts, -1, NULL, NULL, 0), DC_E_INVALID);
    TU_FAILS(dc_safetensors_save(path, NULL, ts, 2, NULL, NULL, 0), DC_E_INVALID);
    TU_FAILS(dc_safetensors_save(path, ok, NULL, 2, NULL, NULL, 0), DC_E_INVALID);
    TU_FAILS(dc_safetensors_save(path, ok, ts, 2, NULL, v, 1), DC_E_INVALID);
    TU_FAILS(dc_safetensors_save(path, ok, ts, 2, k, v, -1), DC_E_INVALID);
    dc_tensor *withnull[2] = {t, NULL};
    TU_FAILS(dc_safetensors_save(path, ok, withnull, 2, NULL, NULL, 0), DC_E_INVALID);
    const char *nullname[2] = {"a", NULL};
    TU_FAILS(dc_safetensors_save(path, nullname, ts, 2, NULL, NULL, 0), DC_E_INVALID);
    const char *dup[2] = {"a", "a"};
    TU_FAILS(dc_safetensors_save(path, dup, ts, 2, NULL, NULL, 0), DC_E_INVALID);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "'a'"));
    const char *meta[1] = {"__metadata__"};
    TU_FAILS(dc_safetensors_save(path, meta, ts, 1, NULL, NULL, 0), DC_E_INVALID);
    const char *bad_names[] = {"a\nb", "\x1f", "\xff", "\xc0\x80", "\xed\xa0\x80", "\xe2\x9c",
                               "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        TU_FAILS(dc_safetensors_save(path, &bad_names[i], ts, 1, NULL, NULL, 0), DC_E_INVALID);
        TU_FAILS(dc_safetensors_save(path, ok, ts, 1, &bad_names[i], v, 1), DC_E_INVALID);
    }
    const char *bad_value[1] = {"\xff"};
    TU_FAILS(dc_safetensors_save(path, ok, ts, 1, k, bad_value, 1), DC_E_INVALID);
    const char *null_value[1] = {NULL};
    TU_FAILS(dc_safetensors_save(path, ok, ts, 1, k, null_value, 1), DC_E_INVALID);
    const char *dupk[2] = {"k", "k"}, *vv[2] = {"1", "2"};
    TU_FAILS(dc_safetensors_save(path, ok, ts, 1, dupk, vv, 2), DC_E_INVALID);
    ck_assert_int_eq(dir_entries(dir), 0);   /* nothing was created */
    dc_scope_end(s);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(save_is_atomic) {
    char dir[64], path[128], missing[160];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = dc_arange(DC_F32, 0, 5, 1);
    const char *name[1] = {"w"};
    TU_OK(dc_safetensors_save(path, name, &t, 1, NULL, NULL, 0));
    size_t n0;
    unsigned char *before = slurp(path, &n0);

    /* into a directory that does not exist: fails, creates nothing */
    snprintf(missing, sizeof missing, "%s/no/such/dir/w.safetensors", dir);
    TU_FAILS(dc_safetensors_save(missing, name, &t, 1, NULL, NULL, 0), DC_E_IO);
    ck_assert_int_eq(dir_entries(dir), 1);

    /* a failing save leaves the earlier file byte for byte */
    const char *bad[1] = {"bad\x01"};
    dc_tensor *other = dc_zeros(DC_F64, 1, (int64_t[]){100});
    TU_FAILS(dc_safetensors_save(path, bad, &other, 1, NULL, NULL, 0), DC_E_INVALID);
    size_t n1;
    unsigned char *after = slurp(path, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_int_eq(memcmp(before, after, n0), 0);
    free(after);

    /* a failure at the rename (the target is a directory): temp removed */
    char sub[160];
    snprintf(sub, sizeof sub, "%s/adir", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    char inner[200];
    snprintf(inner, sizeof inner, "%s/keep", sub);
    FILE *f = fopen(inner, "w");   /* non-empty: rename cannot replace it */
    fclose(f);
    TU_FAILS(dc_safetensors_save(sub, name, &t, 1, NULL, NULL, 0), DC_E_IO);
    ck_assert_int_eq(dir_entries(dir), 2);   /* w.safetensors and adir */
    unlink(inner);
    rmdir(sub);

    /* a successful save replaces the file and keeps its mode */
    ck_assert_int_eq(chmod(path, 0640), 0);
    TU_OK(dc_safetensors_save(path, name, &other, 1, NULL, NULL, 0));
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0640);
    dc_safetensors *st = dc_safetensors_open(path);
    TU_NOTNULL(st);
    dc_tensor *back = dc_safetensors_get(st, "w");
    assert_same_tensor(back, other);
    dc_safetensors_close(st);
    ck_assert_int_eq(dir_entries(dir), 1);
    free(before);
    dc_scope_end(s);
    tmpdir_remove(dir);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Modules                                                           */
/* ---------------------------------------------------------------- */

/* A module made here from the module internals (independent of the layer
 * units): weight (2, 3) f32 param, count () i64 buffer, sub.bias (3,) f32. */
static const dc_module_vtable toy_vt = {"Toy", NULL, NULL};
static const dc_module_vtable toy_sub_vt = {"ToySub", NULL, NULL};

static dc_module *toy_new(double base, int64_t wcols) {
    dc_module *m = dc__module_new(&toy_vt, 0);
    dc_module *sub = dc__module_new(&toy_sub_vt, 0);
    ck_assert(m && sub);
    int64_t ws[2] = {2, wcols}, bs[1] = {3};
    /* the module takes over references of the caller's, not a scope's */
    dc_scope *s = dc_scope_begin();
    dc_tensor *w = dc_reshape(dc_arange(DC_F32, base, base + 2 * (double)wcols, 1), 2, ws);
    TU_OK(dc__module_add_param(m, "weight", dc_retain(w)));
    TU_OK(dc__module_add_buffer(m, "count", dc_retain(dc_scalar(DC_I64, base))));
    TU_OK(dc__module_add_param(sub, "bias", dc_retain(dc_full(DC_F32, 1, bs, -base))));
    dc_scope_end(s);
    TU_OK(dc__module_add_child(m, "sub", sub));
    dc_module_release(sub);
    return m;
}

/* The module's state as one byte string, to compare before and after. */
static unsigned char *state_bytes(dc_module *m, size_t *n) {
    size_t total = 0;
    unsigned char *all = NULL;
    dc_scope *s = dc_scope_begin();
    for (int64_t i = 0; i < dc_module_state_count(m); i++) {
        dc_tensor *t = dc_module_state_tensor(m, i);
        size_t k;
        unsigned char *b = tensor_bytes(t, &k);
        all = realloc(all, total + k + 1);
        memcpy(all + total, b, k);
        total += k;
        free(b);
    }
    dc_scope_end(s);
    *n = total;
    return all;
}

static void assert_states_equal(dc_module *a, dc_module *b) {
    ck_assert_int_eq(dc_module_state_count(a), dc_module_state_count(b));
    size_t na, nb;
    unsigned char *sa = state_bytes(a, &na), *sb = state_bytes(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(sa, sb, na) == 0, "module states differ");
    free(sa);
    free(sb);
}

START_TEST(module_roundtrip) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    dc_module *a = toy_new(1, 3), *b = toy_new(10, 3);
    TU_OK(dc_module_save(a, path));
    dc_safetensors *st = dc_safetensors_open(path);
    TU_NOTNULL(st);
    ck_assert_int_eq(dc_safetensors_count(st), 3);
    ck_assert_str_eq(dc_safetensors_name(st, 0), "weight");
    ck_assert_str_eq(dc_safetensors_name(st, 1), "count");
    ck_assert_str_eq(dc_safetensors_name(st, 2), "sub.bias");
    dc_safetensors_close(st);

    TU_OK(dc_module_load(b, path, 1));
    assert_states_equal(a, b);

    dc_module *c = toy_new(20, 3);
    size_t n;
    unsigned char *bytes = slurp(path, &n);
    TU_OK(dc_module_load_buffer(c, bytes, n, 1));
    assert_states_equal(a, c);
    free(bytes);
    dc_module_release(a);
    dc_module_release(b);
    dc_module_release(c);
    tmpdir_remove(dir);
}
END_TEST

/* Writes a file with the given entries (a subset/superset of the toy's). */
static void save_entries(const char *path, const char **names, dc_tensor **ts, int n) {
    TU_OK(dc_safetensors_save(path, names, ts, n, NULL, NULL, 0));
}

START_TEST(module_strict_and_not) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    dc_scope *s = dc_scope_begin();
    dc_module *m = toy_new(1, 3);
    size_t n0;
    unsigned char *orig = state_bytes(m, &n0);
    dc_tensor *w = dc_full(DC_F32, 2, (int64_t[]){2, 3}, 7);
    dc_tensor *cnt = dc_scalar(DC_I64, 9);
    dc_tensor *bias = dc_full(DC_F32, 1, (int64_t[]){3}, 5);
    dc_tensor *extra = dc_zeros(DC_F32, 1, (int64_t[]){1});

    /* missing "count": strict fails naming it and changes nothing */
    const char *n1[] = {"weight", "sub.bias"};
    dc_tensor *t1[] = {w, bias};
    save_entries(path, n1, t1, 2);
    TU_FAILS(dc_module_load(m, path, 1), DC_E_FORMAT);
    ck_assert_msg(strstr(dc_last_error(), "missing key 'count'") != NULL, "%s", dc_last_error());
    size_t n;
    unsigned char *now = state_bytes(m, &n);
    ck_assert_int_eq(memcmp(orig, now, n0), 0);
    free(now);
    /* not strict: loads the two it has */
    TU_OK(dc_module_load(m, path, 0));
    dc_tensor *got = dc_module_state_find(m, "weight");
    tu_assert_values(got, (const double[]){7, 7, 7, 7, 7, 7}, 6, 0, 0);
    got = dc_module_state_find(m, "count");
    tu_assert_values(got, (const double[]){1}, 1, 0, 0);
    got = dc_module_state_find(m, "sub.bias");
    tu_assert_values(got, (const double[]){5, 5, 5}, 3, 0, 0);

    /* unexpected key: strict fails naming it, non-strict ignores it */
    const char *n2[] = {"weight", "count", "sub.bias", "sub.extra"};
    dc_tensor *t2[] = {w, cnt, bias, extra};
    save_entries(path, n2, t2, 4);
    unsigned char *mid = state_bytes(m, &n0);
    TU_FAILS(dc_module_load(m, path, 1), DC_E_FORMAT);
    ck_assert_msg(strstr(dc_last_error(), "unexpected key 'sub.extra'") != NULL, "%s",
                  dc_last_error());
    now = state_bytes(m, &n);
    ck_assert_int_eq(memcmp(mid, now, n0), 0);
    free(now);
    free(mid);
    TU_OK(dc_module_load(m, path, 0));
    tu_assert_values(dc_module_state_find(m, "count"), (const double[]){9}, 1, 0, 0);

    /* mis-shaped: an error in both modes, naming the key and the shapes */
    dc_tensor *wrong = dc_zeros(DC_F32, 2, (int64_t[]){3, 2});
    dc_tensor *t3[] = {wrong, cnt, bias};
    save_entries(path, n2, t3, 3);
    mid = state_bytes(m, &n0);
    for (int strict = 0; strict < 2; strict++) {
        TU_FAILS(dc_module_load(m, path, strict), DC_E_SHAPE);
        ck_assert_msg(strstr(dc_last_error(), "'weight' has shape [3, 2] in the file, [2, 3]"),
                      "%s", dc_last_error());
        now = state_bytes(m, &n);
        ck_assert_int_eq(memcmp(mid, now, n0), 0);
        free(now);
    }
    free(mid);
    free(orig);
    dc_module_release(m);
    dc_scope_end(s);
    tmpdir_remove(dir);
}
END_TEST

/* f16 weight, f64 bias and an i32 count into the f32/f32/i64 module; an
 * unreadable dtype for a key the module has fails before anything moves. */
START_TEST(module_dtype_conversion) {
    unsigned char data[6 * 2 + 4 + 3 * 8];
    static const uint16_t h[6] = {0x3c00, 0xc000, 0x3800, 0x0001, 0x7bff, 0x8000};
    for (int i = 0; i < 6; i++) {
        data[2 * i] = (unsigned char)h[i];
        data[2 * i + 1] = (unsigned char)(h[i] >> 8);
    }
    int32_t c = -42;
    memcpy(data + 12, &c, 4);   /* little-endian host (x86/arm64) */
    double b[3] = {0.1, -1e10, 2.5};
    memcpy(data + 16, b, sizeof b);
    const char *json =
        "{\"weight\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
        "\"count\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[12,16]},"
        "\"sub.bias\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[16,40]}}";
    size_t n;
    unsigned char *buf = make_buf(json, strlen(json), data, sizeof data, &n);
    dc_module *m = toy_new(1, 3);
    TU_OK(dc_module_load_buffer(m, buf, n, 1));
    dc_scope *s = dc_scope_begin();
    dc_tensor *w = dc_module_state_find(m, "weight");
    ck_assert_int_eq(dc_tensor_dtype(w), DC_F32);
    tu_assert_values(w, (const double[]){1, -2, 0.5, ldexp(1, -24), 65504, -0.0}, 6, 0, 0);
    tu_assert_values(dc_module_state_find(m, "count"), (const double[]){-42}, 1, 0, 0);
    tu_assert_values(dc_module_state_find(m, "sub.bias"),
                     (const double[]){(float)0.1, (float)-1e10, 2.5}, 3, 0, 0);
    dc_scope_end(s);
    free(buf);

    /* I16 for sub.bias: DC_E_UNSUPPORTED and weight keeps its values */
    const char *json2 =
        "{\"weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"count\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]},"
        "\"sub.bias\":{\"dtype\":\"I16\",\"shape\":[3],\"data_offsets\":[32,38]}}";
    buf = make_buf(json2, strlen(json2), NULL, 38, &n);
    size_t n0, n1;
    unsigned char *before = state_bytes(m, &n0);
    TU_FAILS(dc_module_load_buffer(m, buf, n, 1), DC_E_UNSUPPORTED);
    TU_FAILS(dc_module_load_buffer(m, buf, n, 0), DC_E_UNSUPPORTED);
    unsigned char *after = state_bytes(m, &n1);
    ck_assert_int_eq(memcmp(before, after, n0), 0);
    free(before);
    free(after);
    free(buf);
    dc_module_release(m);
}
END_TEST

START_TEST(module_bad_input) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    dc_module *m = toy_new(1, 3);
    TU_FAILS(dc_module_save(NULL, path), DC_E_INVALID);
    TU_FAILS(dc_module_save(m, NULL), DC_E_INVALID);
    TU_FAILS(dc_module_load(NULL, path, 1), DC_E_INVALID);
    TU_FAILS(dc_module_load(m, NULL, 1), DC_E_INVALID);
    TU_FAILS(dc_module_load(m, path, 1), DC_E_IO);   /* no such file */
    TU_FAILS(dc_module_load_buffer(NULL, "x", 1, 1), DC_E_INVALID);
    TU_FAILS(dc_module_load_buffer(m, NULL, 8, 1), DC_E_INVALID);
    TU_FAILS(dc_module_load_buffer(m, "garbage!", 8, 1), DC_E_FORMAT);
    /* a module of another shape */
    dc_module *other = toy_new(1, 4);
    TU_OK(dc_module_save(other, path));
    TU_FAILS(dc_module_load(m, path, 1), DC_E_SHAPE);
    dc_module_release(other);
    dc_module_release(m);
    tmpdir_remove(dir);
}
END_TEST

/* With the real layers: Sequential(Linear(3, 4), Linear(4, 2)). */
static dc_module *mlp_new(uint64_t seed) {
    dc_rng *rng = dc_rng_new(seed);
    dc_module *seq = dc_sequential_new();
    TU_NOTNULL(seq);
    dc_module *l1 = dc_linear_new(3, 4, 1, rng), *l2 = dc_linear_new(4, 2, 1, rng);
    TU_NOTNULL(l1);
    TU_NOTNULL(l2);
    TU_OK(dc_sequential_append(seq, l1));
    TU_OK(dc_sequential_append(seq, l2));
    dc_module_release(l1);
    dc_module_release(l2);
    dc_rng_free(rng);
    return seq;
}

START_TEST(module_layers_roundtrip) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/mlp.safetensors", dir);
    dc_module *a = mlp_new(1), *b = mlp_new(2);
    TU_OK(dc_module_save(a, path));
    dc_safetensors *st = dc_safetensors_open(path);
    TU_NOTNULL(st);
    static const char *want[] = {"0.weight", "0.bias", "1.weight", "1.bias"};
    ck_assert_int_eq(dc_safetensors_count(st), 4);
    for (int i = 0; i < 4; i++) ck_assert_str_eq(dc_safetensors_name(st, i), want[i]);
    dc_safetensors_close(st);
    TU_OK(dc_module_load(b, path, 1));
    assert_states_equal(a, b);
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_rand_normal(NULL, DC_F32, 2, (int64_t[]){5, 3}, 0, 1);
    assert_same_tensor(dc_module_forward(a, x), dc_module_forward(b, x));
    dc_scope_end(s);
    /* a toy's file into the MLP: strict names the first missing key */
    dc_module *toy = toy_new(1, 3);
    TU_OK(dc_module_save(toy, path));
    TU_FAILS(dc_module_load(b, path, 1), DC_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "'0.weight'"));
    TU_OK(dc_module_load(b, path, 0));   /* no key in common: nothing to do */
    assert_states_equal(a, b);
    dc_module_release(toy);
    dc_module_release(a);
    dc_module_release(b);
    tmpdir_remove(dir);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Checkpoints                                                       */
/* ---------------------------------------------------------------- */

/* One step of least squares on the toy: loss = mean((x W^T + b - y)^2),
 * x and y drawn from rng so that the generator's state matters. */
static void train_step(dc_module *m, dc_optim *opt, dc_sched *sched, dc_rng *rng) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_rand_normal(rng, DC_F32, 2, (int64_t[]){4, 3}, 0, 1);
    dc_tensor *y = dc_rand_normal(rng, DC_F32, 2, (int64_t[]){4, 2}, 0, 1);
    dc_tensor *w = dc_module_state_find(m, "weight");
    dc_tensor *b = dc_module_state_find(m, "sub.bias");
    dc_tensor *pred = dc_add(dc_matmul(x, dc_transpose(w, 0, 1)),
                             dc_narrow(b, 0, 0, 2));
    dc_tensor *loss = dc_mean(dc_square(dc_sub(pred, y)), NULL, 0, 0);
    TU_NOTNULL(loss);
    TU_OK(dc_optim_zero_grad(opt));
    TU_OK(dc_backward(loss, NULL, 0));
    TU_OK(dc_optim_step(opt));
    if (sched) TU_OK(dc_sched_step(sched));
    dc_scope_end(s);
}

typedef struct run {
    dc_module *m;
    dc_optim *opt;
    dc_sched *sched;
    dc_rng *rng;
    bool mlp;
} run;

/* mlp: Sequential(Linear, Linear) with SGD + momentum and a cosine
 * schedule; else the toy with Adam (weight decay) and StepLR. */
static run run_new(bool mlp, double base, uint64_t seed) {
    run r;
    r.mlp = mlp;
    r.rng = dc_rng_new(seed);
    if (mlp) {
        r.m = mlp_new(seed);
        dc_tensor *params[4];
        ck_assert_int_eq(dc_module_param_count(r.m), 4);
        for (int i = 0; i < 4; i++) params[i] = dc_module_param(r.m, i);
        r.opt = dc_sgd_new(params, 4, 0.1, 0.9, 0, 0, 1);
        for (int i = 0; i < 4; i++) dc_release(params[i]);
        TU_NOTNULL(r.opt);
        r.sched = dc_sched_cosine_new(r.opt, 15, 0.001);
    } else {
        r.m = toy_new(base, 3);
        dc_tensor *params[2] = {dc__module_own(r.m, "weight"),
                                dc__module_own(dc__module_child_at(r.m, 0), "bias")};
        r.opt = dc_adam_new(params, 2, 0.05, 0.9, 0.999, 1e-8, 0.01, 0);
        TU_NOTNULL(r.opt);
        r.sched = dc_sched_step_lr_new(r.opt, 3, 0.5);
    }
    TU_NOTNULL(r.sched);
    return r;
}

static void run_step(run *r) {
    if (!r->mlp) {
        train_step(r->m, r->opt, r->sched, r->rng);
        return;
    }
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_rand_normal(r->rng, DC_F32, 2, (int64_t[]){5, 3}, 0, 1);
    dc_tensor *y = dc_rand_normal(r->rng, DC_F32, 2, (int64_t[]){5, 2}, 0, 1);
    dc_tensor *loss = dc_mean(dc_square(dc_sub(dc_module_forward(r->m, x), y)), NULL, 0, 0);
    TU_NOTNULL(loss);
    TU_OK(dc_optim_zero_grad(r->opt));
    TU_OK(dc_backward(loss, NULL, 0));
    TU_OK(dc_optim_step(r->opt));
    TU_OK(dc_sched_step(r->sched));
    dc_scope_end(s);
}

static void run_free(run *r) {
    dc_sched_release(r->sched);
    dc_optim_release(r->opt);
    dc_module_release(r->m);
    dc_rng_free(r->rng);
}

/* 10 steps, save, load into fresh objects, 10 more == 20 straight steps. */
static void check_resume(bool mlp) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    run straight = run_new(mlp, 0.1, 42);
    for (int i = 0; i < 20; i++) run_step(&straight);

    run first = run_new(mlp, 0.1, 42);
    for (int i = 0; i < 10; i++) run_step(&first);
    TU_OK(dc_checkpoint_save(path, first.m, first.opt, first.sched, first.rng, 10));
    run_free(&first);

    run resumed = run_new(mlp, 5.0, 7);   /* fresh objects, other values */
    int64_t step = -1;
    TU_OK(dc_checkpoint_load(path, resumed.m, resumed.opt, resumed.sched, resumed.rng, &step));
    ck_assert_int_eq(step, 10);
    ck_assert_int_eq(dc_sched_last_epoch(resumed.sched), 10);
    for (int i = 0; i < 10; i++) run_step(&resumed);

    assert_states_equal(straight.m, resumed.m);
    ck_assert(dc_optim_get_lr(straight.opt, 0) == dc_optim_get_lr(resumed.opt, 0));
    uint64_t a[4], b[4];
    TU_OK(dc_rng_get_state(straight.rng, a));
    TU_OK(dc_rng_get_state(resumed.rng, b));
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    ck_assert_int_gt(dc_optim_state_count(straight.opt), 0);
    ck_assert_int_eq(dc_optim_state_count(straight.opt), dc_optim_state_count(resumed.opt));
    for (int64_t i = 0; i < dc_optim_state_count(straight.opt); i++) {
        ck_assert_str_eq(dc_optim_state_name(straight.opt, i), dc_optim_state_name(resumed.opt, i));
        dc_tensor *x = dc_optim_state_tensor(straight.opt, i);
        dc_tensor *y = dc_optim_state_tensor(resumed.opt, i);
        assert_same_tensor(x, y);
        dc_release(x);
        dc_release(y);
    }
    run_free(&straight);
    run_free(&resumed);
    tmpdir_remove(dir);
}

START_TEST(checkpoint_resumes_bit_for_bit) { check_resume(false); }
END_TEST

START_TEST(checkpoint_resumes_layers_sgd) { check_resume(true); }
END_TEST

/* Without optimizer and schedule: module, generator and step. */
START_TEST(checkpoint_module_rng_step) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/c.safetensors", dir);
    dc_module *a = toy_new(3, 3), *b = toy_new(8, 3);
    dc_rng *ra = dc_rng_new(99), *rb = dc_rng_new(1);
    TU_OK(dc_checkpoint_save(path, a, NULL, NULL, ra, -5));
    dc_safetensors *st = dc_safetensors_open(path);
    TU_NOTNULL(st);
    ck_assert_str_eq(dc_safetensors_name(st, 0), "model.weight");
    ck_assert_str_eq(dc_safetensors_metadata(st, "step"), "-5");
    ck_assert_uint_eq(strlen(dc_safetensors_metadata(st, "rng_state")), 4 * 16 + 3);
    dc_safetensors_close(st);
    int64_t step = 0;
    TU_OK(dc_checkpoint_load(path, b, NULL, NULL, rb, &step));
    ck_assert_int_eq(step, -5);
    assert_states_equal(a, b);
    uint64_t sa[4], sb[4];
    TU_OK(dc_rng_get_state(ra, sa));
    TU_OK(dc_rng_get_state(rb, sb));
    ck_assert_int_eq(memcmp(sa, sb, sizeof sa), 0);
    TU_OK(dc_checkpoint_load(path, b, NULL, NULL, NULL, NULL));   /* parts may be left out */
    dc_module_release(a);
    dc_module_release(b);
    dc_rng_free(ra);
    dc_rng_free(rb);
    tmpdir_remove(dir);
}
END_TEST

/* A checkpoint save interrupted at each of its file operations in turn
 * (injected EIO at the 1st write, the 2nd, ..., the fsync, the rename)
 * fails with DC_E_IO, leaves the previous checkpoint byte for byte, which
 * still loads, and leaves no temporary file behind. */
START_TEST(interrupted_saves_keep_the_previous_checkpoint) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    dc_module *m = mlp_new(3);
    dc_scope *s = dc_scope_begin();
    dc_tensor *params[4];
    for (int i = 0; i < 4; i++) params[i] = dc_module_param(m, i);
    dc_optim *opt = dc_adam_new(params, 4, 0.01, 0.9, 0.999, 1e-8, 0, 0);
    TU_NOTNULL(opt);
    dc_rng *rng = dc_rng_new(11);
    dc_tensor *x = dc_rand_normal(rng, DC_F32, 2, (int64_t[]){5, 3}, 0, 1);
    /* one step, the good checkpoint, then a second step that changes everything */
    for (int k = 0; k < 2; k++) {
        TU_OK(dc_optim_zero_grad(opt));
        TU_OK(dc_backward(dc_sum(dc_square(dc_module_forward(m, x)), NULL, 0, 0), NULL, 0));
        TU_OK(dc_optim_step(opt));
        if (k == 0) TU_OK(dc_checkpoint_save(path, m, opt, NULL, rng, 1));
    }
    size_t good_n;
    unsigned char *good = slurp(path, &good_n);
    long n;
    for (n = 1; n < 1000; n++) {
        dc__io_fault_countdown = n;
        dc_clear_error();
        dc_status st = dc_checkpoint_save(path, m, opt, NULL, rng, 2);
        long left = dc__io_fault_countdown;
        dc__io_fault_countdown = 0;
        if (st == DC_OK) {
            ck_assert_int_gt(left, 0);   /* it succeeded because the hook never fired */
            break;
        }
        ck_assert_msg(st == DC_E_IO, "operation %ld: %s", n, dc_status_str(st));
        size_t now_n;
        unsigned char *now = slurp(path, &now_n);
        ck_assert_msg(now_n == good_n && memcmp(now, good, good_n) == 0,
                      "operation %ld changed the previous checkpoint", n);
        free(now);
        ck_assert_int_eq(dir_entries(dir), 1);   /* no temporary file left */
        dc_module *fresh = mlp_new(4);
        int64_t step = 0;
        TU_OK(dc_checkpoint_load(path, fresh, NULL, NULL, NULL, &step));
        ck_assert_int_eq(step, 1);
        dc_module_release(fresh);
    }
    ck_assert_int_gt(n, 4);   /* at least header, tensors, fsync and rename were cut */
    size_t new_n;
    unsigned char *latest = slurp(path, &new_n);
    ck_assert(new_n != good_n || memcmp(latest, good, good_n) != 0);
    free(latest);
    free(good);
    dc_optim_release(opt);
    dc_rng_free(rng);
    dc_scope_end(s);
    dc_module_release(m);
    tmpdir_remove(dir);
}
END_TEST

START_TEST(checkpoint_errors_change_nothing) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/c.safetensors", dir);
    dc_module *a = toy_new(3, 3), *b = toy_new(8, 3), *wide = toy_new(8, 4);
    dc_rng *rng = dc_rng_new(5);
    uint64_t s0[4], s1[4];
    TU_OK(dc_rng_get_state(rng, s0));
    size_t n0, n1;
    unsigned char *before = state_bytes(b, &n0);
    int64_t step = 77;

    TU_FAILS(dc_checkpoint_save(NULL, a, NULL, NULL, NULL, 0), DC_E_INVALID);
    TU_FAILS(dc_checkpoint_save(path, NULL, NULL, NULL, NULL, 0), DC_E_INVALID);
    TU_FAILS(dc_checkpoint_load(path, NULL, NULL, NULL, NULL, NULL), DC_E_INVALID);
    TU_FAILS(dc_checkpoint_load(path, b, NULL, NULL, rng, &step), DC_E_IO);

    /* saved without a generator, loaded with one */
    TU_OK(dc_checkpoint_save(path, a, NULL, NULL, NULL, 3));
    TU_FAILS(dc_checkpoint_load(path, b, NULL, NULL, rng, &step), DC_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "rng_state"));

    /* into a module of another shape, with a generator and step */
    TU_OK(dc_checkpoint_save(path, wide, NULL, NULL, NULL, 3));
    TU_FAILS(dc_checkpoint_load(path, b, NULL, NULL, NULL, &step), DC_E_SHAPE);

    /* a module file is not a checkpoint */
    TU_OK(dc_module_save(a, path));
    TU_FAILS(dc_checkpoint_load(path, b, NULL, NULL, NULL, &step), DC_E_FORMAT);

    /* corrupt metadata */
    dc_scope *s = dc_scope_begin();
    dc_tensor *ts[3];
    const char *names[3] = {"model.weight", "model.count", "model.sub.bias"};
    for (int i = 0; i < 3; i++) ts[i] = dc_module_state_tensor(a, i);
    const char *keys[] = {"format", "step", "rng_state"};
    const char *bad_sets[][3] = {
        {"libdeepcore-checkpoint-1", "12x", "0000000000000001,0000000000000002,0000000000000003,0000000000000004"},
        {"libdeepcore-checkpoint-1", "", "0000000000000001,0000000000000002,0000000000000003,0000000000000004"},
        {"libdeepcore-checkpoint-1", "99999999999999999999", "0000000000000001,0000000000000002,0000000000000003,0000000000000004"},
        {"libdeepcore-checkpoint-1", "1", "000000000000001,0000000000000002,0000000000000003,0000000000000004"},
        {"libdeepcore-checkpoint-1", "1", "0000000000000001,0000000000000002,0000000000000003"},
        {"libdeepcore-checkpoint-1", "1", "0000000000000000,0000000000000000,0000000000000000,0000000000000000"},
        {"libdeepcore-checkpoint-1", "1", "000000000000000g,0000000000000002,0000000000000003,0000000000000004"},
        {"libdeepcore-checkpoint-9", "1", "0000000000000001,0000000000000002,0000000000000003,0000000000000004"},
    };
    for (size_t i = 0; i < sizeof bad_sets / sizeof bad_sets[0]; i++) {
        TU_OK(dc_safetensors_save(path, names, ts, 3, keys, bad_sets[i], 3));
        TU_FAILS(dc_checkpoint_load(path, b, NULL, NULL, rng, &step), DC_E_FORMAT);
    }
    /* a good one of the same form loads */
    const char *good[] = {"libdeepcore-checkpoint-1", "12",
                          "0000000000000001,0000000000000002,00000000000000ab,FFFFFFFFFFFFFFFF"};
    dc_rng *r2 = dc_rng_new(0);
    TU_OK(dc_safetensors_save(path, names, ts, 3, keys, good, 3));
    dc_module *c = toy_new(0, 3);
    int64_t st2 = 0;
    TU_OK(dc_checkpoint_load(path, c, NULL, NULL, r2, &st2));
    ck_assert_int_eq(st2, 12);
    uint64_t w[4];
    TU_OK(dc_rng_get_state(r2, w));
    ck_assert(w[0] == 1 && w[1] == 2 && w[2] == 0xab && w[3] == UINT64_MAX);
    dc_module_release(c);
    dc_rng_free(r2);
    dc_scope_end(s);

    unsigned char *after = state_bytes(b, &n1);
    ck_assert_int_eq(memcmp(before, after, n0), 0);
    TU_OK(dc_rng_get_state(rng, s1));
    ck_assert_int_eq(memcmp(s0, s1, sizeof s0), 0);
    ck_assert_int_eq(step, 77);
    free(before);
    free(after);
    dc_rng_free(rng);
    dc_module_release(a);
    dc_module_release(b);
    dc_module_release(wide);
    tmpdir_remove(dir);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Allocation failures and allocation bounds                         */
/* ---------------------------------------------------------------- */

typedef struct oom_arg {
    const unsigned char *bytes;
    size_t n;
    const char *path;
} oom_arg;

static bool oom_parse_body(void *p) {
    const oom_arg *a = p;
    dc_safetensors *st = dc_safetensors_from_buffer(a->bytes, a->n);
    if (!st) return false;
    bool ok = true;
    for (int64_t i = 0; i < dc_safetensors_count(st) && ok; i++)
        ok = dc_safetensors_get(st, dc_safetensors_name(st, i)) != NULL;
    dc_safetensors_close(st);
    return ok;
}

START_TEST(oom_parse) {
    char fx[512];
    oom_arg a;
    unsigned char *b = slurp(fixture_path("st_reference.safetensors", fx, sizeof fx), &a.n);
    a.bytes = b;
    ck_assert_int_gt(tu_fail_each_allocation(oom_parse_body, &a, 500), 5);
    free(b);
}
END_TEST

static bool oom_save_body(void *p) {
    return compat_save(((const oom_arg *)p)->path) == DC_OK;
}

START_TEST(oom_save) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/o.safetensors", dir);
    oom_arg a = {NULL, 0, path};
    ck_assert_int_gt(tu_fail_each_allocation(oom_save_body, &a, 500), 5);
    ck_assert_int_eq(dir_entries(dir), 1);   /* no temporary files left */
    tmpdir_remove(dir);
}
END_TEST

/* A Linear with Adam and a generator, saved to a checkpoint and loaded
 * back; then the checkpoint's model part loaded as a module file would
 * fail (names differ), so the module is loaded from a_module's bytes. */
static bool oom_module_body(void *p) {
    const oom_arg *a = p;
    dc_module *m = dc_linear_new(3, 2, 1, NULL);
    dc_rng *rng = dc_rng_new(3);
    dc_tensor *w = m ? dc_module_param(m, 0) : NULL;
    dc_optim *opt = w ? dc_adam_new(&w, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0) : NULL;
    bool ok = opt && rng && dc_module_load_buffer(m, a->bytes, a->n, 1) == DC_OK &&
              dc_module_save(m, a->path) == DC_OK && dc_module_load(m, a->path, 0) == DC_OK &&
              dc_checkpoint_save(a->path, m, opt, NULL, rng, 4) == DC_OK &&
              dc_checkpoint_load(a->path, m, opt, NULL, rng, NULL) == DC_OK;
    dc_optim_release(opt);
    dc_rng_free(rng);
    dc_module_release(m);
    return ok;
}

START_TEST(oom_module_and_checkpoint) {
    char dir[64], path[128];
    tmpdir_make(dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    dc_module *m = dc_linear_new(3, 2, 1, NULL);
    TU_OK(dc_module_save(m, path));
    dc_module_release(m);
    oom_arg a = {NULL, 0, path};
    unsigned char *b = slurp(path, &a.n);
    a.bytes = b;
    ck_assert_int_gt(tu_fail_each_allocation(oom_module_body, &a, 2000), 10);
    ck_assert_int_eq(dir_entries(dir), 1);
    free(b);
    tmpdir_remove(dir);
}
END_TEST

static size_t g_max_alloc;

static void *max_malloc(size_t n, void *c) {
    (void)c;
    if (n > g_max_alloc) g_max_alloc = n;
    return malloc(n);
}

static void *max_realloc(void *p, size_t n, void *c) {
    (void)c;
    if (n > g_max_alloc) g_max_alloc = n;
    return realloc(p, n);
}

static void max_free(void *p, void *c) {
    (void)c;
    free(p);
}

/* What a hostile buffer claims (header length, shapes, offsets) never
 * drives an allocation: the largest stays within a small multiple of the
 * buffer's size. */
START_TEST(allocation_bounded_by_input) {
    TU_OK(dc_set_allocator(max_malloc, max_realloc, max_free, NULL));
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        size_t n;
        unsigned char *b = make_buf(hostile[i].json, strlen(hostile[i].json), NULL,
                                    hostile[i].data, &n);
        g_max_alloc = 0;
        ck_assert_ptr_null(dc_safetensors_from_buffer(b, n));
        ck_assert_msg(g_max_alloc <= 2 * n + 2048, "'%s': %zu bytes allocated for %zu",
                      hostile[i].what, g_max_alloc, n);
        free(b);
    }
    unsigned char hl[16] = {0};
    hl[5] = 1;   /* 2^40 */
    g_max_alloc = 0;
    ck_assert_ptr_null(dc_safetensors_from_buffer(hl, sizeof hl));
    ck_assert_uint_le(g_max_alloc, 2048);
    TU_OK(dc_set_allocator(NULL, NULL, NULL, NULL));
}
END_TEST

int main(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tu_tcase("roundtrip");
    tcase_add_test(tc, roundtrip_every_dtype);
    tcase_add_test(tc, roundtrip_nothing);
    tcase_add_test(tc, bytes_equal_reference_writer);
    tcase_add_test(tc, reads_reference_file);
    tcase_add_test(tc, half_conversions_by_hand);
    tcase_add_test(tc, lenient_where_the_format_allows);
    tcase_add_test(tc, unreadable_entries);
    suite_add_tcase(s, tc);

    tc = tu_tcase("hostile");
    tcase_add_test(tc, hostile_table);
    tcase_add_test(tc, hostile_header_lengths);
    tcase_add_test(tc, hostile_deep_nesting);
    tcase_add_test(tc, hostile_many_names);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);

    tc = tu_tcase("save");
    tcase_add_test(tc, save_bad_input);
    tcase_add_test(tc, save_is_atomic);
    suite_add_tcase(s, tc);

    tc = tu_tcase("module");
    tcase_add_test(tc, module_roundtrip);
    tcase_add_test(tc, module_strict_and_not);
    tcase_add_test(tc, module_dtype_conversion);
    tcase_add_test(tc, module_bad_input);
    tcase_add_test(tc, module_layers_roundtrip);
    suite_add_tcase(s, tc);

    tc = tu_tcase("checkpoint");
    tcase_add_test(tc, checkpoint_resumes_bit_for_bit);
    tcase_add_test(tc, checkpoint_resumes_layers_sgd);
    tcase_add_test(tc, checkpoint_module_rng_step);
    tcase_add_test(tc, checkpoint_errors_change_nothing);
    tcase_add_test(tc, interrupted_saves_keep_the_previous_checkpoint);
    suite_add_tcase(s, tc);

    tc = tu_tcase("allocation");
    tcase_add_test(tc, oom_parse);
    tcase_add_test(tc, oom_save);
    tcase_add_test(tc, oom_module_and_checkpoint);
    tcase_add_test(tc, allocation_bounded_by_input);
    suite_add_tcase(s, tc);
    return tu_run(s);
}

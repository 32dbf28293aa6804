/* Dataset readers (IDX, CSV), the batch loader, scalers, one-hot and
 * metrics (lib/io/idx.c, csv.c, loader.c, preprocess.c, metrics.c).
 *
 * IDX files are written by the tests themselves (plain, and gzip through
 * zlib's gzopen). Metric and scaler reference values come from
 * tests/fixtures/gen_data.py (NumPy only, scikit-learn's formulas) or are
 * worked out by hand in comments. */
#include "testutil.h"

#include "io/io_internal.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define VALS(...) ((const double[]){__VA_ARGS__})
#define NVALS(...) ((int64_t)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double)))
#define ASSERT_VALUES(t, ...) tu_assert_values((t), VALS(__VA_ARGS__), NVALS(__VA_ARGS__), 0, 0)
#define ASSERT_NEAR(t, tol, ...) \
    tu_assert_values((t), VALS(__VA_ARGS__), NVALS(__VA_ARGS__), (tol), (tol))
/* The last error message contains sub. */
#define ASSERT_MSG_HAS(sub)                                                          \
    ck_assert_msg(strstr(dc_last_error(), (sub)) != NULL, "message '%s' lacks '%s'", \
                  dc_last_error(), (sub))

/* ---------------------------------------------------------------- */
/* Files                                                             */
/* ---------------------------------------------------------------- */

static char tmp_dir[256];

static const char *tmp_path(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    return path;
}

static void write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert(fwrite(data, 1, size, f) == size);
    ck_assert(fclose(f) == 0);
}

static void write_gzip(const char *path, const void *data, size_t size) {
    gzFile g = gzopen(path, "wb");
    ck_assert_msg(g != NULL, "cannot write %s", path);
    ck_assert(size == 0 || gzwrite(g, data, (unsigned)size) == (int)size);
    ck_assert(gzclose(g) == Z_OK);
}

/* The bytes of a file (malloc'd). */
static unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    ck_assert(f != NULL);
    ck_assert(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    ck_assert(n >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert(buf != NULL);
    ck_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* A gzip image of data, made with zlib's gzip writer. */
static unsigned char *gzip_bytes(const void *data, size_t size, size_t *gz_size) {
    const char *path = tmp_path("tmp.gz");
    write_gzip(path, data, size);
    unsigned char *buf = slurp(path, gz_size);
    unlink(path);
    return buf;
}

/* An IDX image: magic 00 00 type ndim, big-endian dims, then payload. */
static unsigned char *idx_bytes(unsigned type, unsigned ndim, const uint32_t *dims,
                                const void *payload, size_t payload_size, size_t *size) {
    size_t n = 4 + 4 * (size_t)ndim + payload_size;
    unsigned char *buf = malloc(n ? n : 1);
    ck_assert(buf != NULL);
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)ndim;
    for (unsigned i = 0; i < ndim; i++) {
        buf[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        buf[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        buf[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        buf[7 + 4 * i] = (unsigned char)dims[i];
    }
    if (payload_size && payload) memcpy(buf + 4 + 4 * ndim, payload, payload_size);
    *size = n;
    return buf;
}

/* Loads an IDX image written to disk plain and gzipped; both must give
 * the same tensor, which is returned (the gzip one, in the open scope). */
static dc_tensor *load_both_ways(const unsigned char *img, size_t size) {
    const char *plain = tmp_path("t.idx");
    write_file(plain, img, size);
    dc_tensor *a = dc_idx_load(plain, 0);
    unlink(plain);
    TU_NOTNULL(a);
    const char *gz = tmp_path("t.idx.gz");
    write_gzip(gz, img, size);
    dc_tensor *b = dc_idx_load(gz, 0);
    unlink(gz);
    TU_NOTNULL(b);
    ck_assert_int_eq(dc_tensor_dtype(a), dc_tensor_dtype(b));
    tu_assert_close(b, a, 0, 0);
    return b;
}

/* ---------------------------------------------------------------- */
/* IDX: good files                                                   */
/* ---------------------------------------------------------------- */

START_TEST(idx_u8) {
    dc_scope *s = dc_scope_begin();
    const unsigned char px[6] = {0, 1, 127, 128, 200, 255};
    size_t n;
    unsigned char *img = idx_bytes(0x08, 2, (const uint32_t[]){2, 3}, px, 6, &n);
    dc_tensor *t = load_both_ways(img, n);
    free(img);
    ck_assert_int_eq(dc_tensor_dtype(t), DC_U8);
    tu_assert_shape(t, 2, SH(2, 3));
    ASSERT_VALUES(t, 0, 1, 127, 128, 200, 255);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(idx_signed_types) {
    dc_scope *s = dc_scope_begin();
    size_t n;
    /* i8: two's complement bytes */
    const unsigned char i8[4] = {0x00, 0x7f, 0x80, 0xff};
    unsigned char *img = idx_bytes(0x09, 1, (const uint32_t[]){4}, i8, 4, &n);
    dc_tensor *t = load_both_ways(img, n);
    free(img);
    ck_assert_int_eq(dc_tensor_dtype(t), DC_I32);
    ASSERT_VALUES(t, 0, 127, -128, -1);
    /* i16 big-endian: 0x1234 = 4660, 0x8000 = -32768, 0xfffe = -2 */
    const unsigned char i16[6] = {0x12, 0x34, 0x80, 0x00, 0xff, 0xfe};
    img = idx_bytes(0x0B, 1, (const uint32_t[]){3}, i16, 6, &n);
    t = load_both_ways(img, n);
    free(img);
    ck_assert_int_eq(dc_tensor_dtype(t), DC_I32);
    ASSERT_VALUES(t, 4660, -32768, -2);
    /* i32 big-endian, shape (1, 2, 2) */
    const unsigned char i32[16] = {0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff,
                                   0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00};
    img = idx_bytes(0x0C, 3, (const uint32_t[]){1, 2, 2}, i32, 16, &n);
    t = load_both_ways(img, n);
    free(img);
    ck_assert_int_eq(dc_tensor_dtype(t), DC_I32);
    tu_assert_shape(t, 3, SH(1, 2, 2));
    ASSERT_VALUES(t, 256, -1, 2147483647, -2147483648.0);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(idx_float_types) {
    dc_scope *s = dc_scope_begin();
    size_t n;
    /* f32 big-endian: 1.5 = 3fc00000, -2.25 = c0100000 */
    const unsigned char f32[8] = {0x3f, 0xc0, 0, 0, 0xc0, 0x10, 0, 0};
    unsigned char *img = idx_bytes(0x0D, 1, (const uint32_t[]){2}, f32, 8, &n);
    dc_tensor *t = load_both_ways(img, n);
    free(img);
    ck_assert_int_eq(dc_tensor_dtype(t), DC_F32);
    ASSERT_VALUES(t, 1.5, -2.25);
    /* f64 big-endian: 0.1 = 3fb999999999999a, -1e300 = d1b3e2c7aeabd5cb... use
     * 1/3 = 3fd5555555555555 and -8 = c020000000000000 */
    const unsigned char f64[16] = {0x3f, 0xd5, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
                                   0xc0, 0x20, 0, 0, 0, 0, 0, 0};
    img = idx_bytes(0x0E, 2, (const uint32_t[]){2, 1}, f64, 16, &n);
    t = load_both_ways(img, n);
    free(img);
    ck_assert_int_eq(dc_tensor_dtype(t), DC_F64);
    tu_assert_shape(t, 2, SH(2, 1));
    ASSERT_VALUES(t, 1.0 / 3.0, -8.0);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(idx_empty_and_limits) {
    dc_scope *s = dc_scope_begin();
    size_t n;
    /* a zero size is an empty tensor */
    unsigned char *img = idx_bytes(0x08, 2, (const uint32_t[]){0, 5}, NULL, 0, &n);
    dc_tensor *t = load_both_ways(img, n);
    free(img);
    tu_assert_shape(t, 2, SH(0, 5));
    /* max_bytes bounds the tensor: 6 i16 elements become 24 bytes of i32 */
    const unsigned char i16[12] = {0};
    img = idx_bytes(0x0B, 2, (const uint32_t[]){2, 3}, i16, 12, &n);
    const char *path = tmp_path("lim.idx");
    write_file(path, img, n);
    TU_NULL_WITH(dc_idx_load(path, 23), DC_E_FORMAT);
    ASSERT_MSG_HAS("limit");
    TU_NOTNULL(dc_idx_load(path, 24));
    unlink(path);
    t = dc__idx_parse(img, n, 24);
    TU_NOTNULL(t);
    dc_release(t);
    free(img);
    TU_OK(dc_scope_end(s));
}
END_TEST

/* Two gzip members back to back (as `cat a.gz b.gz`) read as one stream. */
START_TEST(idx_gzip_multi_member) {
    dc_scope *s = dc_scope_begin();
    const unsigned char px[5] = {1, 2, 3, 4, 5};
    size_t n, g1, g2;
    unsigned char *img = idx_bytes(0x08, 1, (const uint32_t[]){5}, px, 5, &n);
    unsigned char *a = gzip_bytes(img, 6, &g1);          /* header and 2 bytes */
    unsigned char *b = gzip_bytes(img + 6, n - 6, &g2);  /* the rest */
    unsigned char *cat = malloc(g1 + g2);
    ck_assert(cat != NULL);
    memcpy(cat, a, g1);
    memcpy(cat + g1, b, g2);
    dc_tensor *t = dc__idx_parse(cat, g1 + g2, 0);
    TU_NOTNULL(t);
    ASSERT_VALUES(t, 1, 2, 3, 4, 5);
    dc_release(t);
    free(img);
    free(a);
    free(b);
    free(cat);
    TU_OK(dc_scope_end(s));
}
END_TEST

/* ---------------------------------------------------------------- */
/* IDX: hostile input                                                */
/* ---------------------------------------------------------------- */

/* An allocator that remembers the largest single request. */
static size_t largest_request;

static void *track_malloc(size_t n, void *ctx) {
    (void)ctx;
    if (n > largest_request) largest_request = n;
    return malloc(n);
}

static void *track_realloc(void *p, size_t n, void *ctx) {
    (void)ctx;
    if (n > largest_request) largest_request = n;
    return realloc(p, n);
}

static void track_free(void *p, void *ctx) {
    (void)ctx;
    free(p);
}

/* dc__idx_parse(buf) fails with DC_E_FORMAT, its message names `what`,
 * and no single allocation exceeded max_alloc bytes. */
static void assert_hostile(const void *buf, size_t size, const char *what, size_t max_alloc) {
    largest_request = 0;
    TU_OK(dc_set_allocator(track_malloc, track_realloc, track_free, NULL));
    dc_clear_error();
    dc_tensor *t = dc__idx_parse(buf, size, 0);
    dc_status st = dc_last_status();
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    dc_release(t);
    TU_OK(dc_set_allocator(NULL, NULL, NULL, NULL));
    ck_assert_msg(t == NULL, "hostile input (%s) was accepted", what);
    ck_assert_msg(st == DC_E_FORMAT, "%s: %s (%s)", what, dc_status_str(st), msg);
    ck_assert_msg(strstr(msg, what) != NULL, "message '%s' lacks '%s'", msg, what);
    ck_assert_msg(largest_request <= max_alloc, "%s: allocated %zu bytes", what,
                  largest_request);
}

START_TEST(idx_hostile_headers) {
    size_t n;
    const size_t small = 1 << 20;
    /* 2^40 elements claimed (u8, (2^20, 2^20)) with 4 bytes of data */
    unsigned char *img = idx_bytes(0x08, 2, (const uint32_t[]){1u << 20, 1u << 20},
                                   "abcd", 4, &n);
    assert_hostile(img, n, "limit", small);
    /* the same gzipped */
    size_t gz;
    unsigned char *z = gzip_bytes(img, n, &gz);
    assert_hostile(z, gz, "limit", small);
    free(z);
    free(img);
    /* sizes whose product overflows 64 bits: 8 dims of 2^32 - 1 */
    uint32_t big[8];
    for (int i = 0; i < 8; i++) big[i] = 0xffffffffu;
    img = idx_bytes(0x0E, 8, big, NULL, 0, &n);
    assert_hostile(img, n, "overflow", small);
    free(img);
    /* ... even when one of them is 0 (an "empty" tensor of absurd shape) */
    big[7] = 0;
    img = idx_bytes(0x0E, 8, big, NULL, 0, &n);
    assert_hostile(img, n, "overflow", small);
    free(img);
    /* bad magic, unknown type, ndim 0 / 9 / 255 */
    const unsigned char bad_magic[8] = {0x01, 0x00, 0x08, 0x01, 0, 0, 0, 0};
    assert_hostile(bad_magic, 8, "magic", small);
    const unsigned char bad_type[8] = {0, 0, 0x0A, 0x01, 0, 0, 0, 0};
    assert_hostile(bad_type, 8, "type 0x0a", small);
    const unsigned bad_ndim[4] = {0, 9, 100, 255};
    for (int i = 0; i < 4; i++) {
        unsigned char hdr[4] = {0, 0, 0x08, (unsigned char)bad_ndim[i]};
        assert_hostile(hdr, 4, "dimensions", small);
    }
    /* too short, header cut off, empty buffer */
    assert_hostile("\0\0", 2, "too short", small);
    assert_hostile(NULL, 0, "too short", small);
    const unsigned char cut[9] = {0, 0, 0x08, 2, 0, 0, 0, 3, 0};
    assert_hostile(cut, 9, "cut off", small);
}
END_TEST

START_TEST(idx_truncated_and_trailing) {
    const size_t small = 1 << 20;
    unsigned char px[7] = {1, 2, 3, 4, 5, 6, 7};
    size_t n;
    unsigned char *img = idx_bytes(0x08, 2, (const uint32_t[]){2, 3}, px, 7, &n);
    assert_hostile(img, n - 2, "truncated", small);    /* 5 of 6 bytes */
    assert_hostile(img, n, "trailing garbage", small); /* 7 of 6 bytes */
    /* gzip: the stream holds 5 or 7 bytes of data for a claim of 6 */
    size_t gz;
    unsigned char *z = gzip_bytes(img, n - 2, &gz);
    assert_hostile(z, gz, "truncated", small);
    free(z);
    z = gzip_bytes(img, n, &gz);
    assert_hostile(z, gz, "trailing garbage", small);
    free(z);
    /* gzip: a good stream cut short, then bytes after its end */
    z = gzip_bytes(img, n - 1, &gz);
    assert_hostile(z, gz - 5, "truncated", small);
    unsigned char *longer = malloc(gz + 3);
    ck_assert(longer != NULL);
    memcpy(longer, z, gz);
    memcpy(longer + gz, "xyz", 3);
    assert_hostile(longer, gz + 3, "trailing garbage", small);
    /* gzip: a corrupted byte in the compressed data or the CRC */
    memcpy(longer, z, gz);
    longer[gz - 6] ^= 0x5a;
    assert_hostile(longer, gz, "gzip", small);
    free(longer);
    free(z);
    free(img);
}
END_TEST

/* A gzip file that claims far more than it holds must fail after
 * allocating about what it really inflates to, not what it claims. */
START_TEST(idx_gzip_bomb_claims) {
    /* 1 GiB claimed, 2 MiB of incompressible data present: passes the
     * ratio check, so the growing buffer is what bounds the allocation */
    const size_t real = 2u << 20;
    size_t n;
    unsigned char *payload = malloc(real);
    ck_assert(payload != NULL);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < real; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        payload[i] = (unsigned char)x;
    }
    unsigned char *img = idx_bytes(0x08, 2, (const uint32_t[]){1u << 15, 1u << 15}, payload,
                                   real, &n);
    free(payload);
    size_t gz;
    unsigned char *z = gzip_bytes(img, n, &gz);
    free(img);
    assert_hostile(z, gz, "truncated", 3 * real);
    free(z);
    /* 3 GiB of zeros claimed by a tiny stream: the ratio check rejects it
     * before anything is inflated */
    img = idx_bytes(0x08, 3, (const uint32_t[]){3, 1u << 15, 1u << 15}, "\0\0\0\0", 4, &n);
    z = gzip_bytes(img, n, &gz);
    free(img);
    assert_hostile(z, gz, "cannot hold", 1 << 20);
    free(z);
}
END_TEST

START_TEST(idx_load_errors) {
    TU_NULL_WITH(dc_idx_load(NULL, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_idx_load(tmp_path("does-not-exist.idx"), 0), DC_E_IO);
    ASSERT_MSG_HAS("No such file");
    ASSERT_MSG_HAS("does-not-exist.idx");
    TU_NULL_WITH(dc_idx_load(tmp_dir, 0), DC_E_IO);   /* a directory */
    /* a malformed file's message names the file */
    const char *path = tmp_path("bad.idx");
    write_file(path, "\1\0\10\1", 4);
    TU_NULL_WITH(dc_idx_load(path, 0), DC_E_FORMAT);
    ASSERT_MSG_HAS("bad.idx");
    ASSERT_MSG_HAS("magic");
    unlink(path);
}
END_TEST

static bool idx_oom_body(void *arg) {
    const char *path = arg;
    dc_tensor *t = dc_idx_load(path, 0);
    return t != NULL;
}

START_TEST(idx_out_of_memory) {
    const unsigned char px[6] = {9, 8, 7, 6, 5, 4};
    size_t n;
    unsigned char *img = idx_bytes(0x0B, 1, (const uint32_t[]){3}, px, 6, &n);
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("oom.idx.gz"));
    write_gzip(path, img, n);
    free(img);
    long runs = tu_fail_each_allocation(idx_oom_body, path, 100);
    ck_assert(runs > 3);
    unlink(path);
}
END_TEST

/* The real Fashion-MNIST training set (Debian package
 * dataset-fashion-mnist). Expected values were read with Python's gzip
 * module and NumPy: 60000 labels, 6000 of each class, the first labels
 * 9 0 0 3 0; pixel sums 76247 (first image), 16684 (last), 3431114169
 * (all). */
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

START_TEST(idx_fashion_mnist) {
    const char *images = FASHION_DIR "/train-images-idx3-ubyte.gz";
    const char *labels = FASHION_DIR "/train-labels-idx1-ubyte.gz";
    if (access(images, R_OK) != 0 || access(labels, R_OK) != 0) {
        printf("NOTE: %s not installed; Fashion-MNIST check skipped\n", FASHION_DIR);
        return;
    }
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_idx_load(images, 0);
    TU_NOTNULL(x);
    ck_assert_int_eq(dc_tensor_dtype(x), DC_U8);
    tu_assert_shape(x, 3, SH(60000, 28, 28));
    dc_tensor *y = dc_idx_load(labels, 0);
    TU_NOTNULL(y);
    ck_assert_int_eq(dc_tensor_dtype(y), DC_U8);
    tu_assert_shape(y, 1, SH(60000));
    const unsigned char *lab = dc_data_ptr(y);
    int64_t count[10] = {0};
    for (int64_t i = 0; i < 60000; i++) {
        ck_assert_msg(lab[i] <= 9, "label %d at %lld", lab[i], (long long)i);
        count[lab[i]]++;
    }
    for (int c = 0; c < 10; c++) ck_assert_int_eq(count[c], 6000);
    ck_assert(lab[0] == 9 && lab[1] == 0 && lab[2] == 0 && lab[3] == 3 && lab[4] == 0);
    const unsigned char *px = dc_data_ptr(x);
    int64_t first = 0, last = 0, all = 0;
    for (int64_t i = 0; i < 60000 * 784; i++) all += px[i];
    for (int i = 0; i < 784; i++) {
        first += px[i];
        last += px[59999 * 784 + i];
    }
    ck_assert_int_eq(first, 76247);
    ck_assert_int_eq(last, 16684);
    ck_assert_int_eq(all, 3431114169);
    /* a limit below the images' 47 MB refuses them */
    TU_NULL_WITH(dc_idx_load(images, 1000000), DC_E_FORMAT);
    TU_OK(dc_scope_end(s));
}
END_TEST

/* ---------------------------------------------------------------- */
/* CSV                                                               */
/* ---------------------------------------------------------------- */

static dc_tensor *csv(const char *text, int header, dc_dtype dtype) {
    return dc__csv_parse(text, strlen(text), header, dtype);
}

/* text fails with DC_E_FORMAT and a message containing want. */
static void assert_csv_bad(const char *text, int header, dc_dtype dtype, const char *want) {
    dc_clear_error();
    dc_tensor *t = csv(text, header, dtype);
    ck_assert_msg(t == NULL, "'%s' was accepted", text);
    ck_assert_msg(dc_last_status() == DC_E_FORMAT, "'%s' -> %s", text,
                  dc_status_str(dc_last_status()));
    ck_assert_msg(strstr(dc_last_error(), want) != NULL, "'%s': message '%s' lacks '%s'", text,
                  dc_last_error(), want);
}

START_TEST(csv_good) {
    dc_tensor *t = csv("1,2,3\n4,5,6\n", 0, DC_F64);
    tu_assert_shape(t, 2, SH(2, 3));
    ASSERT_VALUES(t, 1, 2, 3, 4, 5, 6);
    dc_release(t);
    /* header, spaces and tabs, CRLF, last line without a line end */
    t = csv("a, b\r\nc,d\r\n 1.5 ,\t-2e-3\r\n+7 , 0x10\r\n-0.0,inf", 2, DC_F64);
    tu_assert_shape(t, 2, SH(3, 2));
    ASSERT_VALUES(t, 1.5, -2e-3, 7, 16, -0.0, INFINITY);
    dc_release(t);
    /* blank lines at the end are ignored; one column */
    t = csv("3\n4\n\n  \r\n\n", 0, DC_F32);
    tu_assert_shape(t, 2, SH(2, 1));
    ck_assert_int_eq(dc_tensor_dtype(t), DC_F32);
    ASSERT_VALUES(t, 3, 4);
    dc_release(t);
    /* f32 rounds; nan is a number */
    t = csv("0.1,nan\n", 0, DC_F32);
    ASSERT_VALUES(t, (double)0.1f, NAN);
    dc_release(t);
    /* a header line may hold anything, even a lone \r */
    t = csv("\"x\",\ry,z\n1,2\n", 1, DC_F64);
    ASSERT_VALUES(t, 1, 2);
    dc_release(t);
}
END_TEST

START_TEST(csv_integers) {
    dc_tensor *t = csv("1,-2\n2147483647,-2147483648\n", 0, DC_I32);
    ck_assert_int_eq(dc_tensor_dtype(t), DC_I32);
    ASSERT_VALUES(t, 1, -2, 2147483647, -2147483648.0);
    dc_release(t);
    /* i64 exactly, beyond 2^53 (a double would round 2^53 + 1) */
    t = csv("9007199254740993,-9223372036854775808\n3.0,1e3\n", 0, DC_I64);
    ck_assert_int_eq(dc_tensor_dtype(t), DC_I64);
    const int64_t *v = dc_data_ptr(t);
    ck_assert(v[0] == 9007199254740993LL);
    ck_assert(v[1] == INT64_MIN);
    ck_assert(v[2] == 3 && v[3] == 1000);
    dc_release(t);
}
END_TEST

START_TEST(csv_malformed) {
    assert_csv_bad("1,,3\n", 0, DC_F64, "line 1, column 2: empty field");
    assert_csv_bad("h\n1,2\n3, \n", 1, DC_F64, "line 3, column 2: empty field");
    assert_csv_bad("1,2\n3,abc\n", 0, DC_F64, "line 2, column 2: 'abc' is not a number");
    assert_csv_bad("1,2x\n", 0, DC_F64, "line 1, column 2: '2x' has trailing characters");
    assert_csv_bad("1 2,3\n", 0, DC_F64, "line 1, column 1");
    assert_csv_bad("1,2\n3,4,5\n", 0, DC_F64, "line 2 has 3 columns, expected 2");
    assert_csv_bad("1,2\n3\n", 0, DC_F64, "line 2 has 1 columns, expected 2");
    assert_csv_bad("1,2\n\n3,4\n", 0, DC_F64, "line 2 is empty");
    assert_csv_bad("1\r\n\r\n2\r\n", 0, DC_F64, "line 2 is empty");
    assert_csv_bad("1,2\n3,2.5\n", 0, DC_I32, "line 2, column 2: '2.5' is not an integer");
    assert_csv_bad("1,nan\n", 0, DC_I64, "line 1, column 2: 'nan' is not an integer");
    assert_csv_bad("2147483648\n", 0, DC_I32, "line 1, column 1: '2147483648' is out of range");
    assert_csv_bad("9.3e18\n", 0, DC_I64, "out of range for i64");
    assert_csv_bad("1e999\n", 0, DC_F64, "line 1, column 1: '1e999' is out of range");
    assert_csv_bad("1e39\n", 0, DC_F32, "out of range for f32");
    assert_csv_bad("\"1\",2\n", 0, DC_F64, "line 1, column 1: '\"1\"' is not a number");
    assert_csv_bad("1\r2\n", 0, DC_F64, "line 1, column 1: '1?2' has trailing");
    assert_csv_bad("1,\v2\n", 0, DC_F64, "line 1, column 2");
    assert_csv_bad("", 0, DC_F64, "no data rows");
    assert_csv_bad("\n\n", 0, DC_F64, "no data rows");
    assert_csv_bad("a,b\n", 1, DC_F64, "no data rows");
    assert_csv_bad("a,b\n", 3, DC_F64, "fewer than 3 header lines");
    /* a field too long to be a number */
    char longfield[700];
    memset(longfield, '1', 600);
    strcpy(longfield + 600, "\n");
    assert_csv_bad(longfield, 0, DC_F64, "too long");
    /* a NUL byte inside a field */
    dc_clear_error();
    TU_NULL_WITH(dc__csv_parse("1,2\0003\n", 6, 0, DC_F64), DC_E_FORMAT);
    ASSERT_MSG_HAS("line 1, column 2");
}
END_TEST

START_TEST(csv_files) {
    dc_scope *s = dc_scope_begin();
    /* the committed fixture: a header, CRLF line ends, no final line end */
    char path[1024];
    const char *dir = getenv("DC_FIXTURE_DIR");
    snprintf(path, sizeof path, "%s/data_small.csv", dir ? dir : "tests/fixtures");
    dc_tensor *t = dc_csv_load(path, 1, DC_F64);
    tu_assert_shape(t, 2, SH(4, 3));
    ASSERT_VALUES(t, 5.1, 3.5, 0, 4.9, 3.0, 0, 6.2, 2.9, 1, 5.9, 3.0, 2);
    t = dc_csv_load(path, 1, DC_I64);   /* 5.1 is not an integer */
    ck_assert(t == NULL && dc_last_status() == DC_E_FORMAT);
    ASSERT_MSG_HAS("data_small.csv");
    ASSERT_MSG_HAS("line 2, column 1: '5.1' is not an integer");
    /* bad arguments, missing file */
    TU_NULL_WITH(dc_csv_load(NULL, 0, DC_F64), DC_E_INVALID);
    TU_NULL_WITH(dc_csv_load(path, -1, DC_F64), DC_E_INVALID);
    TU_NULL_WITH(dc_csv_load(path, 0, DC_U8), DC_E_DTYPE);
    TU_NULL_WITH(dc_csv_load(path, 0, DC_BOOL), DC_E_DTYPE);
    TU_NULL_WITH(dc_csv_load(path, 0, (dc_dtype)99), DC_E_DTYPE);
    TU_NULL_WITH(dc_csv_load(tmp_path("missing.csv"), 0, DC_F64), DC_E_IO);
    ASSERT_MSG_HAS("missing.csv");
    TU_NULL_WITH(dc__csv_parse(NULL, 3, 0, DC_F64), DC_E_INVALID);
    TU_OK(dc_scope_end(s));
}
END_TEST

static bool csv_oom_body(void *arg) {
    const char *path = arg;
    return dc_csv_load(path, 1, DC_F32) != NULL;
}

START_TEST(csv_out_of_memory) {
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("oom.csv"));
    write_file(path, "x,y\n1,2\n3,4\n", 12);
    ck_assert(tu_fail_each_allocation(csv_oom_body, path, 100) > 2);
    unlink(path);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Loader                                                            */
/* ---------------------------------------------------------------- */

/* x (n, 2) f64 with row i = [i, 100 + i]; y (n) i64 = 10 i. */
static void make_xy(int64_t n, dc_tensor **x, dc_tensor **y) {
    double *xv = malloc((size_t)(2 * n + 1) * sizeof *xv);
    int64_t *yv = malloc((size_t)(n + 1) * sizeof *yv);
    ck_assert(xv && yv);
    for (int64_t i = 0; i < n; i++) {
        xv[2 * i] = (double)i;
        xv[2 * i + 1] = 100.0 + (double)i;
        yv[i] = 10 * i;
    }
    *x = tu_f64(2, SH(n, 2), xv);
    *y = tu_i64(1, SH(n), yv);
    free(xv);
    free(yv);
    TU_NOTNULL(*x);
    TU_NOTNULL(*y);
}

/* Runs one epoch; writes the sample indices seen (from x[:, 0]) into seen
 * and returns the number of batches. Checks the pairs stay aligned. */
static int64_t run_epoch(dc_loader *l, int64_t *seen, int64_t *sizes) {
    int64_t nb = 0, k = 0;
    dc_tensor *xb, *yb;
    int r;
    while ((r = dc_loader_next(l, &xb, &yb)) == 1) {
        ck_assert(dc_is_contiguous(xb) && dc_is_contiguous(yb));
        ck_assert_int_eq(dc_ndim(xb), 2);
        ck_assert_int_eq(dc_size(xb, 1), 2);
        int64_t b = dc_size(xb, 0);
        ck_assert_int_eq(dc_size(yb, 0), b);
        for (int64_t i = 0; i < b; i++) {
            double v0, v1, w;
            TU_OK(dc_get(xb, SH(i, 0), &v0));
            TU_OK(dc_get(xb, SH(i, 1), &v1));
            TU_OK(dc_get(yb, SH(i), &w));
            ck_assert(v1 == v0 + 100 && w == 10 * v0);
            seen[k++] = (int64_t)v0;
        }
        if (sizes) sizes[nb] = b;
        nb++;
    }
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(dc_loader_next(l, &xb, &yb), 0);   /* stays at the end */
    return nb;
}

static void assert_permutation(const int64_t *v, int64_t n) {
    char *hit = calloc((size_t)n, 1);
    ck_assert(hit != NULL);
    for (int64_t i = 0; i < n; i++) {
        ck_assert(v[i] >= 0 && v[i] < n && !hit[v[i]]);
        hit[v[i]] = 1;
    }
    free(hit);
}

START_TEST(loader_sequential) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x, *y;
    make_xy(10, &x, &y);
    dc_loader *l = dc_loader_new(x, y, 3, 0, 0, 1);
    TU_NOTNULL(l);
    ck_assert_int_eq(dc_loader_num_batches(l), 4);
    int64_t seen[10], sizes[4];
    ck_assert_int_eq(run_epoch(l, seen, sizes), 4);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(seen[i], i);
    ck_assert(sizes[0] == 3 && sizes[1] == 3 && sizes[2] == 3 && sizes[3] == 1);
    TU_OK(dc_loader_reset(l));
    ck_assert_int_eq(run_epoch(l, seen, NULL), 4);
    dc_loader_release(l);
    /* drop_last */
    l = dc_loader_new(x, y, 3, 0, 1, 1);
    ck_assert_int_eq(dc_loader_num_batches(l), 3);
    ck_assert_int_eq(run_epoch(l, seen, sizes), 3);
    ck_assert(sizes[2] == 3 && seen[8] == 8);
    dc_loader_release(l);
    /* an exact multiple, and a batch larger than the data */
    l = dc_loader_new(x, NULL, 5, 0, 1, 1);
    ck_assert_int_eq(dc_loader_num_batches(l), 2);
    dc_loader_release(l);
    l = dc_loader_new(x, NULL, 11, 0, 0, 1);
    ck_assert_int_eq(dc_loader_num_batches(l), 1);
    dc_loader_release(l);
    l = dc_loader_new(x, NULL, 11, 0, 1, 1);
    ck_assert_int_eq(dc_loader_num_batches(l), 0);
    dc_tensor *xb = NULL, *yb = NULL;
    ck_assert_int_eq(dc_loader_next(l, &xb, &yb), 0);
    dc_loader_release(l);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(loader_copies) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x, *y;
    make_xy(6, &x, &y);
    /* a non-contiguous x gives contiguous copies */
    dc_tensor *xn = tu_noncontig(x);
    ck_assert(!dc_is_contiguous(xn));
    dc_loader *l = dc_loader_new(xn, NULL, 4, 0, 0, 0);
    dc_tensor *xb, *yb = (dc_tensor *)1;
    ck_assert_int_eq(dc_loader_next(l, &xb, &yb), 1);
    ck_assert(yb == NULL);   /* no y: *yb is NULL */
    ck_assert(dc_is_contiguous(xb));
    ASSERT_VALUES(xb, 0, 100, 1, 101, 2, 102, 3, 103);
    /* writing to a batch leaves x alone */
    TU_OK(dc_fill(xb, -1));
    double v;
    TU_OK(dc_get(xn, SH(0, 0), &v));
    ck_assert(v == 0);
    /* yb may be NULL even when there is a y */
    dc_loader_release(l);
    l = dc_loader_new(x, y, 4, 1, 0, 0);
    ck_assert_int_eq(dc_loader_next(l, &xb, NULL), 1);
    ck_assert_int_eq(dc_size(xb, 0), 4);
    dc_loader_release(l);
    /* batches of a tensor that requires grad are leaves */
    TU_OK(dc_set_requires_grad(x, 1));
    l = dc_loader_new(x, y, 2, 1, 0, 0);
    ck_assert_int_eq(dc_loader_next(l, &xb, &yb), 1);
    ck_assert_int_eq(dc_is_leaf(xb), 1);
    ck_assert_int_eq(dc_requires_grad(xb), 0);
    /* the loader keeps its own references to x and y */
    TU_OK(dc_scope_end(s));
    s = dc_scope_begin();
    ck_assert_int_eq(dc_loader_next(l, &xb, &yb), 1);
    ck_assert_int_eq(dc_size(xb, 0), 2);
    dc_loader_release(l);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(loader_shuffle) {
    dc_scope *s = dc_scope_begin();
    enum { N = 23 };
    dc_tensor *x, *y;
    make_xy(N, &x, &y);
    dc_loader *a = dc_loader_new(x, y, 5, 1, 0, 42);
    dc_loader *b = dc_loader_new(x, y, 5, 1, 0, 42);
    dc_loader *c = dc_loader_new(x, y, 5, 1, 0, 43);
    TU_NOTNULL(a);
    int64_t e1[N], e2[N], f1[N], f2[N], g1[N], sizes[5];
    ck_assert_int_eq(run_epoch(a, e1, sizes), 5);
    ck_assert_int_eq(sizes[4], 3);
    assert_permutation(e1, N);
    TU_OK(dc_loader_reset(a));
    ck_assert_int_eq(run_epoch(a, e2, NULL), 5);
    assert_permutation(e2, N);
    ck_assert_msg(memcmp(e1, e2, sizeof e1) != 0, "the order did not change between epochs");
    bool sorted = true;
    for (int i = 0; i < N; i++) sorted &= e1[i] == i;
    ck_assert_msg(!sorted, "the shuffled order is the identity");
    /* the same seed gives the same epochs; another seed another order */
    run_epoch(b, f1, NULL);
    TU_OK(dc_loader_reset(b));
    run_epoch(b, f2, NULL);
    ck_assert(memcmp(e1, f1, sizeof e1) == 0 && memcmp(e2, f2, sizeof e2) == 0);
    run_epoch(c, g1, NULL);
    assert_permutation(g1, N);
    ck_assert(memcmp(e1, g1, sizeof e1) != 0);
    /* drop_last with shuffling: 4 full batches, 20 distinct samples */
    dc_loader *d = dc_loader_new(x, y, 5, 1, 1, 7);
    int64_t h[N];
    ck_assert_int_eq(run_epoch(d, h, sizes), 4);
    ck_assert_int_eq(sizes[3], 5);
    char hit[N] = {0};
    for (int i = 0; i < 20; i++) {
        ck_assert(!hit[h[i]]);
        hit[h[i]] = 1;
    }
    dc_loader_release(a);
    dc_loader_release(b);
    dc_loader_release(c);
    dc_loader_release(d);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(loader_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x, *y;
    make_xy(4, &x, &y);
    dc_tensor *y5 = dc_zeros(DC_I64, 1, SH(5));
    dc_tensor *scalar = dc_scalar(DC_F64, 1);
    TU_NULL_WITH(dc_loader_new(NULL, y, 2, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_loader_new(x, y5, 2, 0, 0, 0), DC_E_SHAPE);
    ASSERT_MSG_HAS("4 samples but y has 5");
    TU_NULL_WITH(dc_loader_new(scalar, NULL, 2, 0, 0, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_loader_new(x, scalar, 2, 0, 0, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_loader_new(x, y, 0, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_loader_new(x, y, -3, 0, 0, 0), DC_E_INVALID);
    dc_clear_error();
    ck_assert_int_eq(dc_loader_num_batches(NULL), -1);
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
    TU_FAILS(dc_loader_reset(NULL), DC_E_INVALID);
    dc_tensor *xb;
    dc_clear_error();
    ck_assert_int_eq(dc_loader_next(NULL, &xb, NULL), -1);
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
    dc_loader *l = dc_loader_new(x, y, 2, 0, 0, 0);
    dc_clear_error();
    ck_assert_int_eq(dc_loader_next(l, NULL, NULL), -1);
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
    dc_loader_release(l);
    dc_loader_release(NULL);
    /* no samples: no batches */
    dc_tensor *empty = dc_zeros(DC_F32, 2, SH(0, 3));
    l = dc_loader_new(empty, NULL, 2, 1, 0, 0);
    TU_NOTNULL(l);
    ck_assert_int_eq(dc_loader_num_batches(l), 0);
    ck_assert_int_eq(dc_loader_next(l, &xb, NULL), 0);
    dc_loader_release(l);
    TU_OK(dc_scope_end(s));
}
END_TEST

/* Builds x, y and a shuffling loader and takes one batch; every step may
 * fail from the injected allocation failure. */
static bool loader_oom_body(void *arg) {
    (void)arg;
    dc_tensor *x = dc_reshape(dc_arange(DC_F32, 0, 10, 1), 2, SH(5, 2));
    dc_tensor *y = dc_arange(DC_I64, 0, 5, 1);
    if (!x || !y) return false;
    dc_loader *l = dc_loader_new(x, y, 2, 1, 0, 3);
    if (!l) return false;
    dc_tensor *xb, *yb;
    int r = dc_loader_next(l, &xb, &yb);
    dc_loader_release(l);
    return r == 1;
}

START_TEST(loader_out_of_memory) {
    ck_assert(tu_fail_each_allocation(loader_oom_body, NULL, 200) > 5);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Scalers and one-hot                                               */
/* ---------------------------------------------------------------- */

START_TEST(scaler_minmax_by_hand) {
    dc_scope *s = dc_scope_begin();
    /* feature 0: min 1, max 5; feature 1 constant 10. Range [-1, 1]:
     * y0 = -1 + (x - 1) / 4 * 2, y1 = -1 */
    dc_tensor *train = tu_f64(2, SH(3, 2), VALS(1, 10, 3, 10, 5, 10));
    dc_tensor *test = tu_f64(2, SH(2, 2), VALS(2, 10, 7, 3));
    dc_scaler *sc = dc_scaler_minmax_new(-1, 1);
    TU_NOTNULL(sc);
    TU_OK(dc_scaler_fit(sc, train));
    dc_tensor *y = dc_scaler_transform(sc, test);
    tu_assert_shape(y, 2, SH(2, 2));
    ASSERT_NEAR(y, 1e-15, -0.5, -1, 2.0, -1);
    y = dc_scaler_transform(sc, train);
    ASSERT_NEAR(y, 1e-15, -1, -1, 0, -1, 1, -1);
    /* f32 and a non-contiguous batch */
    dc_tensor *t32 = tu_noncontig(tu_f32(2, SH(2, 2), VALS(2, 10, 7, 3)));
    y = dc_scaler_transform(sc, t32);
    ck_assert_int_eq(dc_tensor_dtype(y), DC_F32);
    ASSERT_NEAR(y, 1e-7, -0.5, -1, 2.0, -1);
    dc_scaler_release(sc);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(scaler_standard_by_hand) {
    dc_scope *s = dc_scope_begin();
    /* feature 0: 1, 3, 5 -> mean 3, population std sqrt(8/3);
     * feature 1 constant 2 -> 0 */
    dc_tensor *train = tu_f64(2, SH(3, 2), VALS(1, 2, 3, 2, 5, 2));
    dc_scaler *sc = dc_scaler_standard_new();
    TU_OK(dc_scaler_fit(sc, train));
    dc_tensor *y = dc_scaler_transform(sc, tu_f64(2, SH(2, 2), VALS(4, 2, 0, 9)));
    double sd = sqrt(8.0 / 3.0);
    ASSERT_NEAR(y, 1e-15, 1 / sd, 0, -3 / sd, 0);
    /* a constant feature of values that do not sum exactly still maps to 0 */
    dc_tensor *c = tu_f64(2, SH(3, 1), VALS(0.1, 0.1, 0.1));
    TU_OK(dc_scaler_fit(sc, c));
    ASSERT_VALUES(dc_scaler_transform(sc, c), 0, 0, 0);
    /* refitting replaces the statistics and the sample shape */
    TU_NULL_WITH(dc_scaler_transform(sc, train), DC_E_SHAPE);
    dc_scaler_release(sc);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(scaler_numpy) {
    dc_scope *s = dc_scope_begin();
    double *v = tu_read_fixture("data_scaler.f64", (24 + 12 * 3) * sizeof(double));
    dc_tensor *train = tu_f64(2, SH(8, 3), v);
    dc_tensor *test = tu_f64(2, SH(4, 3), v + 24);
    dc_scaler *mm = dc_scaler_minmax_new(-1, 2);
    dc_scaler *st = dc_scaler_standard_new();
    TU_OK(dc_scaler_fit(mm, train));
    TU_OK(dc_scaler_fit(st, train));
    tu_assert_values(dc_scaler_transform(mm, test), v + 36, 12, 1e-12, 1e-12);
    tu_assert_values(dc_scaler_transform(st, test), v + 48, 12, 1e-12, 1e-12);
    /* fitted in f32 */
    TU_OK(dc_scaler_fit(st, dc_cast(train, DC_F32)));
    tu_assert_values(dc_scaler_transform(st, dc_cast(test, DC_F32)), v + 48, 12, 1e-5, 1e-5);
    free(v);
    dc_scaler_release(mm);
    dc_scaler_release(st);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(scaler_sample_shapes) {
    dc_scope *s = dc_scope_begin();
    /* (N, 2, 2) samples: one feature per element */
    dc_tensor *train = tu_f64(3, SH(2, 2, 2), VALS(0, 1, 2, 3, 4, 5, 6, 7));
    dc_scaler *sc = dc_scaler_minmax_new(0, 1);
    TU_OK(dc_scaler_fit(sc, train));
    dc_tensor *y = dc_scaler_transform(sc, tu_f64(3, SH(1, 2, 2), VALS(2, 1, 2, 3)));
    tu_assert_shape(y, 3, SH(1, 2, 2));
    ASSERT_NEAR(y, 1e-15, 0.5, 0, 0, 0);
    TU_NULL_WITH(dc_scaler_transform(sc, tu_f64(2, SH(1, 4), VALS(1, 2, 3, 4))), DC_E_SHAPE);
    TU_NULL_WITH(dc_scaler_transform(sc, dc_zeros(DC_F64, 3, SH(1, 2, 3))), DC_E_SHAPE);
    TU_NULL_WITH(dc_scaler_transform(sc, dc_zeros(DC_F64, 2, SH(2, 2))), DC_E_SHAPE);
    /* an empty batch is fine */
    y = dc_scaler_transform(sc, dc_zeros(DC_F64, 3, SH(0, 2, 2)));
    tu_assert_shape(y, 3, SH(0, 2, 2));
    /* 1-D x: N samples of one scalar feature */
    TU_OK(dc_scaler_fit(sc, tu_f64(1, SH(3), VALS(2, 4, 6))));
    ASSERT_VALUES(dc_scaler_transform(sc, tu_f64(1, SH(2), VALS(4, 8))), 0.5, 1.5);
    dc_scaler_release(sc);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(scaler_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f64(2, SH(2, 2), VALS(1, 2, 3, 4));
    TU_NULL_WITH(dc_scaler_minmax_new(1, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_scaler_minmax_new(2, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_scaler_minmax_new(NAN, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_scaler_minmax_new(0, INFINITY), DC_E_INVALID);
    dc_scaler *sc = dc_scaler_standard_new();
    TU_NULL_WITH(dc_scaler_transform(sc, x), DC_E_STATE);
    ASSERT_MSG_HAS("not fitted");
    TU_FAILS(dc_scaler_fit(NULL, x), DC_E_INVALID);
    TU_FAILS(dc_scaler_fit(sc, NULL), DC_E_INVALID);
    TU_FAILS(dc_scaler_fit(sc, tu_i64(2, SH(1, 2), (const int64_t[]){1, 2})), DC_E_DTYPE);
    TU_FAILS(dc_scaler_fit(sc, dc_scalar(DC_F64, 1)), DC_E_SHAPE);
    TU_FAILS(dc_scaler_fit(sc, dc_zeros(DC_F64, 2, SH(0, 2))), DC_E_SHAPE);
    TU_OK(dc_scaler_fit(sc, x));
    TU_NULL_WITH(dc_scaler_transform(NULL, x), DC_E_INVALID);
    TU_NULL_WITH(dc_scaler_transform(sc, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_scaler_transform(sc, dc_zeros(DC_I32, 2, SH(2, 2))), DC_E_DTYPE);
    TU_NULL_WITH(dc_scaler_transform(sc, dc_scalar(DC_F64, 1)), DC_E_SHAPE);
    dc_scaler_release(sc);
    dc_scaler_release(NULL);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(one_hot) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *y = dc_one_hot(tu_i64(1, SH(3), (const int64_t[]){2, 0, 1}), 3, DC_F32);
    tu_assert_shape(y, 2, SH(3, 3));
    ck_assert_int_eq(dc_tensor_dtype(y), DC_F32);
    ASSERT_VALUES(y, 0, 0, 1, 1, 0, 0, 0, 1, 0);
    /* 2-D i32 labels, non-contiguous, into i64 */
    dc_tensor *lab = dc_cast(tu_noncontig(tu_i64(2, SH(2, 2), (const int64_t[]){0, 3, 1, 0})),
                             DC_I32);
    y = dc_one_hot(lab, 4, DC_I64);
    tu_assert_shape(y, 3, SH(2, 2, 4));
    ASSERT_VALUES(y, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0);
    /* u8 labels into bool; a 0-d label */
    y = dc_one_hot(dc_full(DC_U8, 0, NULL, 1), 2, DC_BOOL);
    tu_assert_shape(y, 1, SH(2));
    ASSERT_VALUES(y, 0, 1);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(one_hot_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *lab = tu_i64(1, SH(3), (const int64_t[]){2, 0, 3});
    TU_NULL_WITH(dc_one_hot(lab, 3, DC_F32), DC_E_RANGE);
    ASSERT_MSG_HAS("label 3 (element 2) is outside 0..2");
    TU_NULL_WITH(dc_one_hot(tu_i64(1, SH(1), (const int64_t[]){-1}), 3, DC_F32), DC_E_RANGE);
    TU_NULL_WITH(dc_one_hot(NULL, 3, DC_F32), DC_E_INVALID);
    TU_NULL_WITH(dc_one_hot(lab, 0, DC_F32), DC_E_INVALID);
    TU_NULL_WITH(dc_one_hot(lab, 4, (dc_dtype)42), DC_E_DTYPE);
    TU_NULL_WITH(dc_one_hot(dc_zeros(DC_F32, 1, SH(2)), 4, DC_F32), DC_E_DTYPE);
    TU_NULL_WITH(dc_one_hot(dc_zeros(DC_BOOL, 1, SH(2)), 4, DC_F32), DC_E_DTYPE);
    int64_t sh8[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    TU_NULL_WITH(dc_one_hot(dc_zeros(DC_I64, 8, sh8), 2, DC_F32), DC_E_SHAPE);
    TU_NULL_WITH(dc_one_hot(lab, INT64_MAX / 2, DC_F32), DC_E_OVERFLOW);
    TU_OK(dc_scope_end(s));
}
END_TEST

/* ---------------------------------------------------------------- */
/* Metrics                                                           */
/* ---------------------------------------------------------------- */

START_TEST(metrics_by_hand) {
    dc_scope *s = dc_scope_begin();
    /* pred 0 1 1 2, true 0 1 2 2: class 0 1/1, class 1 predicted twice
     * (1 right), class 2 true twice (1 found). */
    dc_tensor *p = tu_i64(1, SH(4), (const int64_t[]){0, 1, 1, 2});
    dc_tensor *t = dc_cast(tu_i64(1, SH(4), (const int64_t[]){0, 1, 2, 2}), DC_I32);
    double acc;
    TU_OK(dc_metric_accuracy(p, t, &acc));
    ck_assert(acc == 0.75);
    dc_tensor *cm = dc_confusion_matrix(p, t, 3);
    ck_assert_int_eq(dc_tensor_dtype(cm), DC_I64);
    tu_assert_shape(cm, 2, SH(3, 3));
    ASSERT_VALUES(cm, 1, 0, 0, 0, 1, 0, 0, 1, 1);
    double prec[3], rec[3], f1[3];
    TU_OK(dc_metric_per_class(p, t, 3, prec, rec, f1));
    ck_assert(prec[0] == 1 && prec[1] == 0.5 && prec[2] == 1);
    ck_assert(rec[0] == 1 && rec[1] == 1 && rec[2] == 0.5);
    ck_assert(f1[0] == 1 && fabs(f1[1] - 2.0 / 3) < 1e-15 && fabs(f1[2] - 2.0 / 3) < 1e-15);
    TU_OK(dc_metric_per_class(p, t, 3, NULL, rec, NULL));   /* any output may be NULL */
    double P, R, F;
    TU_OK(dc_metric_prf(p, t, 3, DC_AVERAGE_MACRO, &P, &R, &F));
    ck_assert(fabs(P - 2.5 / 3) < 1e-15 && fabs(R - 2.5 / 3) < 1e-15);
    ck_assert(fabs(F - (1 + 4.0 / 3) / 3) < 1e-15);
    TU_OK(dc_metric_prf(p, t, 3, DC_AVERAGE_MICRO, &P, &R, &F));
    ck_assert(P == 0.75 && R == 0.75 && F == 0.75);
    /* weighted by support 1, 1, 2 */
    TU_OK(dc_metric_prf(p, t, 3, DC_AVERAGE_WEIGHTED, &P, NULL, NULL));
    ck_assert(fabs(P - (1 + 0.5 + 2) / 4) < 1e-15);
    /* a class absent from both counts as 0 in the macro average */
    TU_OK(dc_metric_prf(p, t, 4, DC_AVERAGE_MACRO, &P, NULL, NULL));
    ck_assert(fabs(P - 2.5 / 4) < 1e-15);
    /* u8 and non-contiguous 2-D labels */
    dc_tensor *p2 = dc_cast(tu_noncontig(tu_i64(2, SH(2, 2), (const int64_t[]){0, 1, 1, 2})),
                            DC_U8);
    dc_tensor *t2 = tu_i64(2, SH(2, 2), (const int64_t[]){0, 1, 2, 2});
    TU_OK(dc_metric_accuracy(p2, t2, &acc));
    ck_assert(acc == 0.75);
    /* weighted with no sample at all: 0 (zero_division) */
    dc_tensor *none = dc_zeros(DC_I64, 1, SH(0));
    TU_OK(dc_metric_prf(none, none, 2, DC_AVERAGE_WEIGHTED, &P, &R, &F));
    ck_assert(P == 0 && R == 0 && F == 0);
    ASSERT_VALUES(dc_confusion_matrix(none, none, 2), 0, 0, 0, 0);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(metrics_numpy) {
    dc_scope *s = dc_scope_begin();
    enum { N = 40, C = 5 };
    int64_t *lab = tu_read_fixture("data_metrics_labels.i64", 2 * N * sizeof(int64_t));
    int64_t *cmv = tu_read_fixture("data_metrics_cm.i64", C * C * sizeof(int64_t));
    double *want = tu_read_fixture("data_metrics_prf.f64", (3 * C + 10) * sizeof(double));
    dc_tensor *p = tu_i64(1, SH(N), lab);
    dc_tensor *t = tu_i64(1, SH(N), lab + N);
    dc_tensor *cm = dc_confusion_matrix(p, t, C);
    double cmd[C * C];
    for (int i = 0; i < C * C; i++) cmd[i] = (double)cmv[i];
    tu_assert_values(cm, cmd, C * C, 0, 0);
    double prec[C], rec[C], f1[C];
    TU_OK(dc_metric_per_class(p, t, C, prec, rec, f1));
    for (int c = 0; c < C; c++) {
        ck_assert_msg(fabs(prec[c] - want[c]) < 1e-12, "precision %d", c);
        ck_assert_msg(fabs(rec[c] - want[C + c]) < 1e-12, "recall %d", c);
        ck_assert_msg(fabs(f1[c] - want[2 * C + c]) < 1e-12, "f1 %d", c);
    }
    const dc_average avg[3] = {DC_AVERAGE_MACRO, DC_AVERAGE_MICRO, DC_AVERAGE_WEIGHTED};
    for (int k = 0; k < 3; k++) {
        double P, R, F;
        TU_OK(dc_metric_prf(p, t, C, avg[k], &P, &R, &F));
        const double *w = want + 3 * C + 3 * k;
        ck_assert_msg(fabs(P - w[0]) < 1e-12 && fabs(R - w[1]) < 1e-12 && fabs(F - w[2]) < 1e-12,
                      "average %d: %g %g %g, wanted %g %g %g", k, P, R, F, w[0], w[1], w[2]);
    }
    double acc;
    TU_OK(dc_metric_accuracy(p, t, &acc));
    ck_assert(fabs(acc - want[3 * C + 9]) < 1e-15);
    free(lab);
    free(cmv);
    free(want);
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(metrics_regression) {
    dc_scope *s = dc_scope_begin();
    enum { M = 30 };
    double *v = tu_read_fixture("data_metrics_reg.f64", (2 * M + 3) * sizeof(double));
    dc_tensor *p = tu_f64(1, SH(M), v);
    dc_tensor *t = tu_f64(1, SH(M), v + M);
    double mse, mae, r2;
    TU_OK(dc_metric_mse(p, t, &mse));
    TU_OK(dc_metric_mae(p, t, &mae));
    TU_OK(dc_metric_r2(p, t, &r2));
    ck_assert(fabs(mse - v[2 * M]) < 1e-12 && fabs(mae - v[2 * M + 1]) < 1e-12);
    ck_assert(fabs(r2 - v[2 * M + 2]) < 1e-12);
    /* f32 pred against f64 target, 2-D and non-contiguous */
    dc_tensor *p2 = tu_noncontig(dc_cast(dc_reshape(p, 2, SH(5, 6)), DC_F32));
    TU_OK(dc_metric_mse(p2, dc_reshape(t, 2, SH(5, 6)), &mse));
    ck_assert(fabs(mse - v[2 * M]) < 1e-5);
    free(v);
    /* by hand: pred 1 2 4, true 1 3 5 -> mse 2/3, mae 2/3;
     * mean 3, ss_tot 8, ss_res 2 -> r2 0.75 */
    dc_tensor *a = tu_f64(1, SH(3), VALS(1, 2, 4));
    dc_tensor *b = tu_i64(1, SH(3), (const int64_t[]){1, 3, 5});
    TU_OK(dc_metric_mse(a, b, &mse));
    TU_OK(dc_metric_mae(a, b, &mae));
    TU_OK(dc_metric_r2(a, b, &r2));
    ck_assert(fabs(mse - 2.0 / 3) < 1e-15 && fabs(mae - 2.0 / 3) < 1e-15 && r2 == 0.75);
    /* constant target: 1 when perfect, else 0 (sklearn force_finite) */
    dc_tensor *c = tu_f64(1, SH(3), VALS(2, 2, 2));
    TU_OK(dc_metric_r2(c, c, &r2));
    ck_assert(r2 == 1.0);
    TU_OK(dc_metric_r2(a, c, &r2));
    ck_assert(r2 == 0.0);
    /* one sample: NaN (sklearn: not well-defined) */
    TU_OK(dc_metric_r2(tu_f64(1, SH(1), VALS(1)), tu_f64(1, SH(1), VALS(1)), &r2));
    ck_assert(isnan(r2));
    TU_OK(dc_scope_end(s));
}
END_TEST

START_TEST(metrics_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *p = tu_i64(1, SH(3), (const int64_t[]){0, 1, 2});
    dc_tensor *t = tu_i64(1, SH(3), (const int64_t[]){0, 1, 1});
    dc_tensor *t4 = tu_i64(1, SH(4), (const int64_t[]){0, 1, 1, 0});
    dc_tensor *f = dc_zeros(DC_F32, 1, SH(3));
    dc_tensor *bad = tu_i64(1, SH(3), (const int64_t[]){0, -1, 1});
    dc_tensor *none = dc_zeros(DC_I64, 1, SH(0));
    double v, arr[3];
    /* accuracy */
    TU_FAILS(dc_metric_accuracy(NULL, t, &v), DC_E_INVALID);
    TU_FAILS(dc_metric_accuracy(p, NULL, &v), DC_E_INVALID);
    TU_FAILS(dc_metric_accuracy(p, t, NULL), DC_E_INVALID);
    TU_FAILS(dc_metric_accuracy(p, t4, &v), DC_E_SHAPE);
    TU_FAILS(dc_metric_accuracy(f, t, &v), DC_E_DTYPE);
    TU_FAILS(dc_metric_accuracy(none, none, &v), DC_E_SHAPE);
    /* confusion matrix */
    TU_NULL_WITH(dc_confusion_matrix(NULL, t, 3), DC_E_INVALID);
    TU_NULL_WITH(dc_confusion_matrix(p, t4, 3), DC_E_SHAPE);
    TU_NULL_WITH(dc_confusion_matrix(p, f, 3), DC_E_DTYPE);
    TU_NULL_WITH(dc_confusion_matrix(p, t, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_confusion_matrix(p, t, 2), DC_E_RANGE);
    ASSERT_MSG_HAS("predicted label 2 (element 2) is outside 0..1");
    TU_NULL_WITH(dc_confusion_matrix(p, bad, 3), DC_E_RANGE);
    ASSERT_MSG_HAS("true label -1");
    TU_NULL_WITH(dc_confusion_matrix(p, t, INT64_MAX), DC_E_OVERFLOW);
    /* per class and averages */
    TU_FAILS(dc_metric_per_class(p, t, 2, arr, arr, arr), DC_E_RANGE);
    TU_FAILS(dc_metric_per_class(p, t4, 3, arr, arr, arr), DC_E_SHAPE);
    TU_FAILS(dc_metric_per_class(f, f, 3, arr, arr, arr), DC_E_DTYPE);
    TU_FAILS(dc_metric_per_class(NULL, t, 3, arr, arr, arr), DC_E_INVALID);
    TU_FAILS(dc_metric_per_class(p, t, -1, arr, arr, arr), DC_E_INVALID);
    TU_FAILS(dc_metric_prf(p, bad, 3, DC_AVERAGE_MACRO, &v, &v, &v), DC_E_RANGE);
    TU_FAILS(dc_metric_prf(p, t, 3, (dc_average)7, &v, &v, &v), DC_E_INVALID);
    TU_FAILS(dc_metric_prf(p, t4, 3, DC_AVERAGE_MICRO, &v, &v, &v), DC_E_SHAPE);
    TU_FAILS(dc_metric_prf(p, f, 3, DC_AVERAGE_MICRO, &v, &v, &v), DC_E_DTYPE);
    TU_FAILS(dc_metric_prf(p, NULL, 3, DC_AVERAGE_MICRO, &v, &v, &v), DC_E_INVALID);
    /* regression */
    dc_status (*reg[3])(const dc_tensor *, const dc_tensor *, double *) = {
        dc_metric_mse, dc_metric_mae, dc_metric_r2};
    dc_tensor *b = dc_zeros(DC_BOOL, 1, SH(3));
    for (int k = 0; k < 3; k++) {
        TU_FAILS(reg[k](NULL, f, &v), DC_E_INVALID);
        TU_FAILS(reg[k](f, NULL, &v), DC_E_INVALID);
        TU_FAILS(reg[k](f, f, NULL), DC_E_INVALID);
        TU_FAILS(reg[k](f, t4, &v), DC_E_SHAPE);
        TU_FAILS(reg[k](f, dc_zeros(DC_F32, 2, SH(3, 1)), &v), DC_E_SHAPE);
        TU_FAILS(reg[k](b, f, &v), DC_E_DTYPE);
        TU_FAILS(reg[k](none, none, &v), DC_E_SHAPE);
    }
    TU_OK(dc_scope_end(s));
}
END_TEST

/* ---------------------------------------------------------------- */

static void remove_tmp_dir(void) {
    DIR *d = opendir(tmp_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(tmp_path(e->d_name));
        closedir(d);
    }
    rmdir(tmp_dir);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/dc_test_data_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("data");
    struct {
        const char *name;
        const TTest *tests[12];
    } groups[] = {
        {"idx", {idx_u8, idx_signed_types, idx_float_types, idx_empty_and_limits,
                 idx_gzip_multi_member, idx_load_errors, idx_out_of_memory, idx_fashion_mnist}},
        {"idx_hostile", {idx_hostile_headers, idx_truncated_and_trailing, idx_gzip_bomb_claims}},
        {"csv", {csv_good, csv_integers, csv_malformed, csv_files, csv_out_of_memory}},
        {"loader", {loader_sequential, loader_copies, loader_shuffle, loader_bad_input,
                    loader_out_of_memory}},
        {"preprocess", {scaler_minmax_by_hand, scaler_standard_by_hand, scaler_numpy,
                        scaler_sample_shapes, scaler_bad_input, one_hot, one_hot_bad_input}},
        {"metrics", {metrics_by_hand, metrics_numpy, metrics_regression, metrics_bad_input}},
    };
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        TCase *tc = tu_tcase(groups[g].name);
        for (int i = 0; i < 12 && groups[g].tests[i]; i++) tcase_add_test(tc, groups[g].tests[i]);
        suite_add_tcase(s, tc);
    }
    int rc = tu_run(s);
    remove_tmp_dir();
    return rc;
}

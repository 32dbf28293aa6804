/* IDX reader (the MNIST format), plain or gzip-compressed.
 *
 * Layout: 0x00 0x00, a type byte, ndim, then ndim big-endian u32 sizes,
 * then the elements, big-endian, row-major. The header is never trusted:
 * the size it claims is checked against max_bytes and against the data
 * actually present before anything that large is allocated. For gzip
 * input the output buffer grows with the data the stream delivers, so a
 * small file that claims a huge payload costs at most about twice what it
 * really inflates to. */
#include "io_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_DEFAULT_MAX_BYTES ((uint64_t)1 << 32)   /* max_bytes 0: 4 GiB */
#define IDX_GROW_START ((size_t)1 << 20)            /* first gzip buffer */
/* deflate cannot expand one input byte into more than 1032 output bytes
 * (258-byte matches in 2-bit codes); a claim beyond that is a lie. */
#define DEFLATE_MAX_RATIO 1032u

/* ---------------------------------------------------------------- */
/* Whole-file reads (shared with csv.c through io_internal.h)        */
/* ---------------------------------------------------------------- */

dc_status dc__read_file(const char *path, size_t max_size, const char *func,
                        unsigned char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dc__fail(DC_E_IO, "%s: cannot open '%s': %s", func, path, DC__ERRNO_TEXT(errno));
    struct stat st;
    size_t cap = 65536;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
        (uint64_t)st.st_size < (uint64_t)max_size)
        cap = (size_t)st.st_size + 1;
    unsigned char *buf = dc__malloc(cap + 1);
    size_t len = 0;
    dc_status status = buf ? DC_OK : DC_E_NOMEM;
    while (status == DC_OK) {
        if (len == cap) {
            if (cap > max_size) {
                status = dc__fail(DC_E_FORMAT, "%s: '%s' is larger than %zu bytes",
                                  func, path, max_size);
                break;
            }
            size_t ncap = cap > SIZE_MAX / 2 - 1 ? SIZE_MAX - 1 : cap * 2;
            unsigned char *nbuf = dc__realloc(buf, ncap + 1);
            if (!nbuf) {
                status = DC_E_NOMEM;
                break;
            }
            buf = nbuf;
            cap = ncap;
        }
        errno = 0;
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) {  /* a short read: the end of the file, or an error */
            if (ferror(f))
                status = dc__fail(DC_E_IO, "%s: cannot read '%s': %s", func, path,
                                  DC__ERRNO_TEXT(errno ? errno : EIO));
            break;
        }
    }
    fclose(f);
    if (status == DC_OK && len > max_size)
        status = dc__fail(DC_E_FORMAT, "%s: '%s' is larger than %zu bytes", func, path,
                          max_size);
    if (status != DC_OK) {
        dc__free(buf);
        return status;
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* Header                                                            */
/* ---------------------------------------------------------------- */

typedef struct idx_type {
    unsigned char code;
    unsigned width;          /* bytes per element in the file */
    dc_dtype dtype;          /* what it becomes */
} idx_type;

static const idx_type idx_types[] = {
    {0x08, 1, DC_U8},  {0x09, 1, DC_I32}, {0x0B, 2, DC_I32},
    {0x0C, 4, DC_I32}, {0x0D, 4, DC_F32}, {0x0E, 8, DC_F64},
};

typedef struct idx_header {
    const idx_type *type;
    int ndim;
    int64_t shape[DC_MAX_DIMS];
    uint64_t numel;
    uint64_t payload;        /* bytes of element data in the file */
    size_t header_bytes;     /* 4 + 4 * ndim */
} idx_header;

/* Records DC_E_FORMAT with "dc_idx_load: ['origin': ]detail". */
DC_PRINTF(2, 3)
static void idx_report(const char *origin, const char *fmt, ...) {
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (origin) dc__fail(DC_E_FORMAT, "dc_idx_load: '%s': %s", origin, detail);
    else dc__fail(DC_E_FORMAT, "dc_idx_load: %s", detail);
}
/* idx_report's status, DC_E_FORMAT, spelled out at each call: the static
 * analyzer does not follow variadic functions, and would otherwise take
 * every error path for one that may return DC_OK. */
#define IDX_ERROR(...) (idx_report(__VA_ARGS__), DC_E_FORMAT)

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The 4 magic bytes: 0, 0, type, ndim. */
static dc_status parse_magic(const unsigned char *p, idx_header *h, const char *origin) {
    h->type = NULL;
    if (p[0] != 0 || p[1] != 0)
        return IDX_ERROR(origin, "bad magic %02x %02x (an IDX file starts with 00 00)",
                         p[0], p[1]);
    for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
        if (idx_types[i].code == p[2]) h->type = &idx_types[i];
    if (!h->type) return IDX_ERROR(origin, "unknown element type 0x%02x", p[2]);
    if (p[3] < 1 || p[3] > DC_MAX_DIMS)
        return IDX_ERROR(origin, "%u dimensions (1..%d supported)", p[3], DC_MAX_DIMS);
    h->ndim = p[3];
    h->header_bytes = 4 + 4 * (size_t)h->ndim;
    return DC_OK;
}

/* The big-endian sizes after the magic, checked against limit (bytes of
 * the tensor to be made). */
static dc_status parse_dims(const unsigned char *p, idx_header *h, uint64_t limit,
                            const char *origin) {
    /* Sizes are u32, so the product of the non-zero ones fits unless the
     * header is absurd; an empty tensor must still have a sane shape. */
    uint64_t nonzero = 1;
    bool empty = false;
    for (int i = 0; i < h->ndim; i++) {
        uint32_t d = be32(p + 4 * (size_t)i);
        h->shape[i] = d;
        if (d == 0) {
            empty = true;
            continue;
        }
        if (nonzero > (uint64_t)INT64_MAX / 16 / d)
            return IDX_ERROR(origin, "the sizes in the header overflow");
        nonzero *= d;
    }
    h->numel = empty ? 0 : nonzero;
    uint64_t out_size = dc_dtype_size(h->type->dtype);
    if (h->numel > limit / out_size)
        return IDX_ERROR(origin,
                         "the header claims %llu elements (%llu bytes), more than the "
                         "limit of %llu bytes",
                         (unsigned long long)h->numel,
                         (unsigned long long)h->numel * out_size,
                         (unsigned long long)limit);
    h->payload = h->numel * h->type->width;
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* Elements                                                          */
/* ---------------------------------------------------------------- */

/* Big-endian file elements -> out's dtype (n = out->numel). */
static void convert_elements(dc_tensor *out, const unsigned char *src, const idx_type *ty) {
    int64_t n = out->numel;
    void *dst = dc__tensor_data(out);
    switch (ty->code) {
    case 0x08:
        if (n) memcpy(dst, src, (size_t)n);
        break;
    case 0x09: {
        int32_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = src[i] < 128 ? src[i] : (int32_t)src[i] - 256;
        break;
    }
    case 0x0B: {
        int32_t *d = dst;
        for (int64_t i = 0; i < n; i++) {
            int32_t v = (int32_t)src[2 * i] << 8 | src[2 * i + 1];
            d[i] = v < 32768 ? v : v - 65536;
        }
        break;
    }
    case 0x0C: {
        int32_t *d = dst;
        for (int64_t i = 0; i < n; i++) {
            uint32_t v = be32(src + 4 * i);
            memcpy(&d[i], &v, 4);  /* two's complement by definition of int32_t */
        }
        break;
    }
    case 0x0D: {
        float *d = dst;
        for (int64_t i = 0; i < n; i++) {
            uint32_t v = be32(src + 4 * i);
            memcpy(&d[i], &v, 4);
        }
        break;
    }
    case 0x0E: {
        double *d = dst;
        for (int64_t i = 0; i < n; i++) {
            uint64_t v = (uint64_t)be32(src + 8 * i) << 32 | be32(src + 8 * i + 4);
            memcpy(&d[i], &v, 8);
        }
        break;
    }
    }
}

static dc_tensor *make_tensor(const idx_header *h, const unsigned char *payload) {
    dc_tensor *out = dc__tensor_new(h->type->dtype, h->ndim, h->shape, false);
    if (out) convert_elements(out, payload, h->type);
    return out;
}

/* ---------------------------------------------------------------- */
/* Plain files                                                       */
/* ---------------------------------------------------------------- */

static dc_tensor *parse_plain(const unsigned char *p, size_t size, uint64_t limit,
                              const char *origin) {
    idx_header h;
    if (size < 4) {
        idx_report(origin, "%zu bytes are too short for an IDX header", size);
        return NULL;
    }
    if (parse_magic(p, &h, origin) != DC_OK) return NULL;
    if (size < h.header_bytes) {
        idx_report(origin, "the header of %zu bytes is cut off after %zu", h.header_bytes,
                   size);
        return NULL;
    }
    if (parse_dims(p + 4, &h, limit, origin) != DC_OK) return NULL;
    uint64_t present = size - h.header_bytes;
    if (h.payload != present) {
        idx_report(origin, "the header claims %llu bytes of data but %llu follow it%s",
                   (unsigned long long)h.payload, (unsigned long long)present,
                   h.payload > present ? " (truncated)" : " (trailing garbage)");
        return NULL;
    }
    return make_tensor(&h, p + h.header_bytes);
}

/* ---------------------------------------------------------------- */
/* gzip                                                              */
/* ---------------------------------------------------------------- */

/* zlib allocates through the library's allocator (counted, replaceable). */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    if (size != 0 && items > SIZE_MAX / size) return Z_NULL;
    return dc__malloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p) {
    (void)opaque;
    dc__free(p);
}

/* An inflating reader over a buffer holding one or more gzip members. */
typedef struct gz_reader {
    z_stream zs;
    const unsigned char *base;
    size_t size;
    bool finished;           /* the last member ended at the end of input */
    const char *origin;
} gz_reader;

static size_t gz_consumed(const gz_reader *g) {
    return (size_t)(g->zs.next_in - g->base);
}

/* zlib counts input in uInt: feed the buffer in pieces. */
static void gz_refill(gz_reader *g) {
    if (g->zs.avail_in > 0) return;
    size_t left = g->size - gz_consumed(g);
    g->zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
}

/* After the end of a member: another member, the end, or garbage. */
static dc_status gz_member_end(gz_reader *g) {
    size_t at = gz_consumed(g);
    size_t left = g->size - at;
    if (left == 0) {
        g->finished = true;
        return DC_OK;
    }
    if (left >= 2 && g->base[at] == 0x1f && g->base[at + 1] == 0x8b) {
        if (inflateReset(&g->zs) != Z_OK)
            return IDX_ERROR(g->origin, "cannot restart the gzip stream");
        return DC_OK;
    }
    return IDX_ERROR(g->origin, "%zu bytes of trailing garbage after the gzip stream", left);
}

/* Inflates up to n bytes into dst; *got is less than n only at the end of
 * the data. A corrupt or truncated stream is DC_E_FORMAT. */
static dc_status gz_read(gz_reader *g, unsigned char *dst, size_t n, size_t *got) {
    size_t done = 0;
    while (done < n && !g->finished) {
        gz_refill(g);
        size_t want = n - done > UINT_MAX ? UINT_MAX : n - done;
        g->zs.next_out = dst + done;
        g->zs.avail_out = (uInt)want;
        int rc = inflate(&g->zs, Z_NO_FLUSH);
        done += want - g->zs.avail_out;
        if (rc == Z_STREAM_END) {
            dc_status st = gz_member_end(g);
            if (st != DC_OK) return st;
        } else if (rc == Z_BUF_ERROR) {
            if (g->zs.avail_in == 0 && gz_consumed(g) == g->size)
                return IDX_ERROR(g->origin, "the gzip stream is truncated");
        } else if (rc == Z_MEM_ERROR) {
            return DC_E_NOMEM;
        } else if (rc != Z_OK) {
            return IDX_ERROR(g->origin, "corrupt gzip data (%s)",
                             g->zs.msg ? g->zs.msg : "inflate failed");
        }
    }
    *got = done;
    return DC_OK;
}

/* Reads exactly n bytes or fails naming what was being read. */
static dc_status gz_read_exact(gz_reader *g, unsigned char *dst, size_t n, const char *what) {
    size_t got;
    dc_status st = gz_read(g, dst, n, &got);
    if (st != DC_OK) return st;
    if (got < n)
        return IDX_ERROR(g->origin, "the %s ends after %zu of %zu bytes", what, got, n);
    return DC_OK;
}

/* Inflates the payload into a buffer that grows with what the stream
 * really delivers, then checks that nothing follows it. */
static dc_status gz_read_payload(gz_reader *g, size_t payload, unsigned char **out) {
    size_t cap = payload < IDX_GROW_START ? payload : IDX_GROW_START;
    unsigned char *buf = dc__malloc(cap);
    if (!buf) return DC_E_NOMEM;
    size_t have = 0;
    dc_status st = DC_OK;
    while (st == DC_OK && have < payload) {
        if (have == cap) {
            size_t ncap = cap > payload / 2 ? payload : cap * 2;
            unsigned char *nbuf = dc__realloc(buf, ncap);
            if (!nbuf) {
                st = DC_E_NOMEM;
                break;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got;
        st = gz_read(g, buf + have, cap - have, &got);
        if (st == DC_OK && got < cap - have)
            st = IDX_ERROR(g->origin,
                           "the header claims %zu bytes of data but the stream holds %zu "
                           "(truncated)", payload, have + got);
        have += got;
    }
    if (st == DC_OK) {
        unsigned char extra;
        size_t got;
        st = gz_read(g, &extra, 1, &got);
        if (st == DC_OK && got != 0)
            st = IDX_ERROR(g->origin,
                           "the stream holds more than the %zu bytes of data the header "
                           "claims (trailing garbage)", payload);
    }
    if (st != DC_OK) {
        dc__free(buf);
        return st;
    }
    *out = buf;
    return DC_OK;
}

static dc_tensor *parse_gzip_stream(gz_reader *g, uint64_t limit) {
    idx_header h;
    unsigned char head[4 + 4 * DC_MAX_DIMS];
    if (gz_read_exact(g, head, 4, "IDX header") != DC_OK) return NULL;
    if (parse_magic(head, &h, g->origin) != DC_OK) return NULL;
    if (gz_read_exact(g, head + 4, h.header_bytes - 4, "IDX header") != DC_OK) return NULL;
    if (parse_dims(head + 4, &h, limit, g->origin) != DC_OK) return NULL;
    uint64_t max_out = (uint64_t)g->size * DEFLATE_MAX_RATIO;
    if (h.payload + h.header_bytes > max_out + 64 || h.payload > SIZE_MAX) {
        idx_report(g->origin,
                   "the header claims %llu bytes of data; %zu compressed bytes cannot "
                   "hold that much (truncated or hostile)",
                   (unsigned long long)h.payload, g->size);
        return NULL;
    }
    unsigned char *payload = NULL;
    if (gz_read_payload(g, (size_t)h.payload, &payload) != DC_OK) return NULL;
    dc_tensor *out = make_tensor(&h, payload);
    dc__free(payload);
    return out;
}

static dc_tensor *parse_gzip(const unsigned char *p, size_t size, uint64_t limit,
                             const char *origin) {
    gz_reader g;
    memset(&g, 0, sizeof g);
    g.base = p;
    g.size = size;
    g.origin = origin;
    g.zs.zalloc = z_alloc;
    g.zs.zfree = z_free;
    g.zs.next_in = (unsigned char *)p;   /* zlib does not write through it */
    int rc = inflateInit2(&g.zs, 16 + MAX_WBITS);  /* gzip wrapper only */
    if (rc != Z_OK) {
        if (rc == Z_MEM_ERROR) dc__fail(DC_E_NOMEM, "dc_idx_load: out of memory for zlib");
        else dc__fail(DC_E_INTERNAL, "dc_idx_load: inflateInit2 failed (%d)", rc);
        return NULL;
    }
    dc_tensor *out = parse_gzip_stream(&g, limit);
    inflateEnd(&g.zs);
    return out;
}

/* ---------------------------------------------------------------- */
/* Entry points                                                      */
/* ---------------------------------------------------------------- */

static uint64_t effective_limit(size_t max_bytes) {
    uint64_t limit = max_bytes ? (uint64_t)max_bytes : IDX_DEFAULT_MAX_BYTES;
    return limit < (uint64_t)SIZE_MAX ? limit : (uint64_t)SIZE_MAX;
}

static dc_tensor *idx_parse(const void *data, size_t size, size_t max_bytes,
                            const char *origin) {
    const unsigned char *p = data;
    if (!p && size > 0) {
        dc__fail(DC_E_INVALID, "dc_idx_load: 'data' is NULL");
        return NULL;
    }
    uint64_t limit = effective_limit(max_bytes);
    if (size >= 2 && p[0] == 0x1f && p[1] == 0x8b) return parse_gzip(p, size, limit, origin);
    return parse_plain(p, size, limit, origin);
}

dc_tensor *dc__idx_parse(const void *data, size_t size, size_t max_bytes) {
    return idx_parse(data, size, max_bytes, NULL);
}

dc_tensor *dc_idx_load(const char *path, size_t max_bytes) {
    if (!path) {
        dc__fail(DC_E_INVALID, "dc_idx_load: 'path' is NULL");
        return NULL;
    }
    /* A plain file is header + payload; gzip adds a little for incompressible data. */
    uint64_t limit = effective_limit(max_bytes);
    uint64_t max_file = limit + limit / 64 + 4096;
    size_t max_size = max_file < (uint64_t)SIZE_MAX ? (size_t)max_file : SIZE_MAX - 1;
    unsigned char *data;
    size_t size;
    if (dc__read_file(path, max_size, "dc_idx_load", &data, &size) != DC_OK) return NULL;
    dc_tensor *out = idx_parse(data, size, max_bytes, path);
    dc__free(data);
    return dc__publish(out);
}

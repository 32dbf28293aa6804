/* A small JSON reader and writer (see json.h). */
#include "json.h"

#include <stdio.h>
#include <string.h>

void dc__json_init(dc_json *j, const char *s, size_t n, const char *ctx) {
    j->s = s;
    j->n = n;
    j->pos = 0;
    j->ctx = ctx;
}

bool dc__json_error(dc_json *j, const char *what) {
    dc__fail(DC_E_FORMAT, "%s: %s at byte %zu of the JSON header", j->ctx, what, j->pos);
    return false;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int dc__json_peek(dc_json *j) {
    while (j->pos < j->n && is_ws(j->s[j->pos])) j->pos++;
    return j->pos < j->n ? (unsigned char)j->s[j->pos] : -1;
}

bool dc__json_expect(dc_json *j, char c) {
    if (dc__json_peek(j) != (unsigned char)c) {
        char what[32];
        snprintf(what, sizeof what, "expected '%c'", c);
        return dc__json_error(j, what);
    }
    j->pos++;
    return true;
}

bool dc__json_accept(dc_json *j, char c) {
    if (dc__json_peek(j) != (unsigned char)c) return false;
    j->pos++;
    return true;
}

bool dc__json_at_end(dc_json *j) { return dc__json_peek(j) == -1; }

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;   /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;      /* overlong */
        if (c == 0xed) hi = 0x9f;      /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;      /* overlong */
        if (c == 0xf4) hi = 0x8f;      /* past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

bool dc__utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(u + i, n - i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits after "\u". */
static bool read_hex4(dc_json *j, unsigned *out) {
    if (j->n - j->pos < 4) return dc__json_error(j, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_value(j->s[j->pos + i]);
        if (d < 0) return dc__json_error(j, "bad hex digit in \\u escape");
        v = v * 16 + (unsigned)d;
    }
    j->pos += 4;
    *out = v;
    return true;
}

static size_t put_utf8(char *d, unsigned cp) {
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The code point of a \u escape (j->pos just past the 'u'), joining a
 * surrogate pair; lone surrogates and U+0000 are refused. */
static bool read_unicode_escape(dc_json *j, unsigned *cp) {
    unsigned hi;
    if (!read_hex4(j, &hi)) return false;
    if (hi >= 0xdc00 && hi <= 0xdfff) return dc__json_error(j, "lone low surrogate");
    if (hi >= 0xd800 && hi <= 0xdbff) {
        unsigned lo;
        if (j->n - j->pos < 2 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u')
            return dc__json_error(j, "lone high surrogate");
        j->pos += 2;
        if (!read_hex4(j, &lo)) return false;
        if (lo < 0xdc00 || lo > 0xdfff) return dc__json_error(j, "bad low surrogate");
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (hi == 0) return dc__json_error(j, "\\u0000 in a string");
    *cp = hi;
    return true;
}

/* Decodes one escape (j->pos just past the backslash) into d. */
static bool read_escape(dc_json *j, char *d, size_t *len) {
    if (j->pos >= j->n) return dc__json_error(j, "unterminated string");
    char c = j->s[j->pos++];
    char simple = 0;
    switch (c) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': {
        unsigned cp;
        if (!read_unicode_escape(j, &cp)) return false;
        *len = put_utf8(d, cp);
        return true;
    }
    default:
        j->pos--;
        return dc__json_error(j, "bad escape in a string");
    }
    d[0] = simple;
    *len = 1;
    return true;
}

bool dc__json_string(dc_json *j, char **out) {
    if (!dc__json_expect(j, '"')) return false;
    /* The decoded text is never longer than the raw text. */
    size_t start = j->pos, end = start;
    while (end < j->n && j->s[end] != '"') end += j->s[end] == '\\' ? 2 : 1;
    if (end >= j->n) return dc__json_error(j, "unterminated string");
    char *buf = dc__malloc(end - start + 1);
    if (!buf) return false;
    size_t len = 0;
    while (j->s[j->pos] != '"') {
        unsigned char c = (unsigned char)j->s[j->pos];
        if (c < 0x20) {
            dc__free(buf);
            return dc__json_error(j, "control character in a string");
        }
        if (c == '\\') {
            j->pos++;
            size_t n;
            if (!read_escape(j, buf + len, &n)) {
                dc__free(buf);
                return false;
            }
            len += n;
            continue;
        }
        size_t n = utf8_seq_len((const unsigned char *)j->s + j->pos, end - j->pos);
        if (n == 0) {
            dc__free(buf);
            return dc__json_error(j, "invalid UTF-8 in a string");
        }
        memcpy(buf + len, j->s + j->pos, n);
        len += n;
        j->pos += n;
    }
    j->pos++;
    buf[len] = '\0';
    *out = buf;
    return true;
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

/* Scans a JSON number at j->pos; sets *integral when it has neither a
 * fraction nor an exponent. Leaves j->pos past it. */
static bool scan_number(dc_json *j, bool *integral) {
    size_t p = j->pos;
    if (p < j->n && j->s[p] == '-') p++;
    if (p >= j->n || !is_digit(j->s[p])) {
        j->pos = p;
        return dc__json_error(j, "bad number");
    }
    if (j->s[p] == '0') p++;
    else
        while (p < j->n && is_digit(j->s[p])) p++;
    *integral = true;
    if (p < j->n && j->s[p] == '.') {
        *integral = false;
        p++;
        if (p >= j->n || !is_digit(j->s[p])) {
            j->pos = p;
            return dc__json_error(j, "bad number");
        }
        while (p < j->n && is_digit(j->s[p])) p++;
    }
    if (p < j->n && (j->s[p] == 'e' || j->s[p] == 'E')) {
        *integral = false;
        p++;
        if (p < j->n && (j->s[p] == '+' || j->s[p] == '-')) p++;
        if (p >= j->n || !is_digit(j->s[p])) {
            j->pos = p;
            return dc__json_error(j, "bad number");
        }
        while (p < j->n && is_digit(j->s[p])) p++;
    }
    j->pos = p;
    return true;
}

bool dc__json_int(dc_json *j, int64_t *out) {
    int c = dc__json_peek(j);
    if (c != '-' && !is_digit(c)) return dc__json_error(j, "expected an integer");
    size_t start = j->pos;
    bool integral;
    if (!scan_number(j, &integral)) return false;
    if (!integral) {
        j->pos = start;
        return dc__json_error(j, "expected an integer, found a fraction or exponent");
    }
    bool neg = j->s[start] == '-';
    uint64_t v = 0;
    for (size_t p = start + neg; p < j->pos; p++) {
        uint64_t d = (uint64_t)(j->s[p] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            j->pos = start;
            return dc__json_error(j, "integer out of range");
        }
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) {
        j->pos = start;
        return dc__json_error(j, "integer out of range");
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool skip_literal(dc_json *j, const char *word) {
    size_t len = strlen(word);
    if (j->n - j->pos < len || memcmp(j->s + j->pos, word, len) != 0)
        return dc__json_error(j, "unexpected character");
    j->pos += len;
    return true;
}

/* Skips the members of an array or object whose opening bracket has been
 * consumed; depth is the level of its members. */
static bool skip_members(dc_json *j, bool object, int depth) {
    char close = object ? '}' : ']';
    if (dc__json_accept(j, close)) return true;
    do {
        if (object) {
            char *key;
            if (!dc__json_string(j, &key)) return false;
            dc__free(key);
            if (!dc__json_expect(j, ':')) return false;
        }
        if (!dc__json_skip(j, depth)) return false;
    } while (dc__json_accept(j, ','));
    return dc__json_expect(j, close);
}

bool dc__json_skip(dc_json *j, int depth) {
    int c = dc__json_peek(j);
    switch (c) {
    case '{':
    case '[':
        if (depth >= DC_JSON_MAX_DEPTH) return dc__json_error(j, "nesting too deep");
        j->pos++;
        return skip_members(j, c == '{', depth + 1);
    case '"': {
        char *s;
        if (!dc__json_string(j, &s)) return false;
        dc__free(s);
        return true;
    }
    case 't': return skip_literal(j, "true");
    case 'f': return skip_literal(j, "false");
    case 'n': return skip_literal(j, "null");
    case -1: return dc__json_error(j, "unexpected end");
    default: {
        bool integral;
        if (c != '-' && !is_digit(c)) return dc__json_error(j, "unexpected character");
        return scan_number(j, &integral);
    }
    }
}

/* ---------------------------------------------------------------- */
/* Writing                                                           */
/* ---------------------------------------------------------------- */

static bool sb_reserve(dc_strbuf *b, size_t extra) {
    if (b->failed) return false;
    if (extra <= b->cap - b->len) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            dc__fail(DC_E_OVERFLOW, "a text buffer would exceed the address space");
            return false;
        }
        cap *= 2;
    }
    char *p = dc__realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

bool dc__sb_append(dc_strbuf *b, const char *s, size_t n) {
    if (!sb_reserve(b, n)) return false;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    return true;
}

bool dc__sb_puts(dc_strbuf *b, const char *s) { return dc__sb_append(b, s, strlen(s)); }

bool dc__sb_printf(dc_strbuf *b, const char *fmt, ...) {
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        dc__fail(DC_E_INTERNAL, "formatting failed");
        return false;
    }
    if ((size_t)n < sizeof small) return dc__sb_append(b, small, (size_t)n);
    if (!sb_reserve(b, (size_t)n + 1)) return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

void dc__sb_free(dc_strbuf *b) {
    dc__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

dc_status dc__json_write_string(dc_strbuf *b, const char *s, bool allow_control,
                                const char *func, const char *what) {
    size_t n = strlen(s);
    if (!dc__utf8_valid(s, n))
        return dc__fail(DC_E_INVALID, "%s: %s is not valid UTF-8", func, what);
    dc__sb_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (c < 0x20 && !allow_control)
            return dc__fail(DC_E_INVALID, "%s: %s '%.40s' contains the control character 0x%02x",
                            func, what, s, c);
        if (esc) dc__sb_puts(b, esc);
        else if (c < 0x20) dc__sb_printf(b, "\\u%04x", c);
        else dc__sb_append(b, (const char *)&s[i], 1);
    }
    dc__sb_append(b, "\"", 1);
    return b->failed ? dc_last_status() : DC_OK;
}

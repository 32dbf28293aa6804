/* A small JSON reader and writer, enough for safetensors headers.
 *
 * The reader works on a byte range (not NUL-terminated) and never
 * allocates more than the text it decodes. Every reader records
 * DC_E_FORMAT with the byte position and returns false on malformed text.
 * Nesting is limited to DC_JSON_MAX_DEPTH so hostile input cannot exhaust
 * the stack. */
#ifndef DEEPCORE_IO_JSON_H
#define DEEPCORE_IO_JSON_H

#include "../core/internal.h"

#define DC_JSON_MAX_DEPTH 64

typedef struct dc_json {
    const char *s;
    size_t n;
    size_t pos;
    const char *ctx;      /* prefix of error messages */
} dc_json;

void dc__json_init(dc_json *j, const char *s, size_t n, const char *ctx);
/* Records DC_E_FORMAT "<ctx>: <what> at byte <pos>"; returns false. */
bool dc__json_error(dc_json *j, const char *what);
/* Skips whitespace; the next byte, or -1 at the end. */
int dc__json_peek(dc_json *j);
/* Skips whitespace and consumes c (an error when it is not there). */
bool dc__json_expect(dc_json *j, char c);
/* Skips whitespace and consumes c when it is next; no error otherwise. */
bool dc__json_accept(dc_json *j, char c);
/* A string: *out is a NUL-terminated copy with escapes decoded (valid
 * UTF-8; "\u0000" is refused because a C string cannot hold it). */
bool dc__json_string(dc_json *j, char **out);
/* A number that must be an integer (no fraction or exponent) fitting in
 * int64. */
bool dc__json_int(dc_json *j, int64_t *out);
/* Skips one value of any kind; depth is the nesting level it sits at. */
bool dc__json_skip(dc_json *j, int depth);
/* Only whitespace is left. */
bool dc__json_at_end(dc_json *j);

/* Checks UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). */
bool dc__utf8_valid(const char *s, size_t n);

/* A growing byte buffer. After a failed append (DC_E_NOMEM recorded) the
 * buffer stays failed and further appends do nothing. */
typedef struct dc_strbuf {
    char *data;
    size_t len, cap;
    bool failed;
} dc_strbuf;

bool dc__sb_append(dc_strbuf *b, const char *s, size_t n);
bool dc__sb_puts(dc_strbuf *b, const char *s);
bool dc__sb_printf(dc_strbuf *b, const char *fmt, ...) DC_PRINTF(2, 3);
void dc__sb_free(dc_strbuf *b);

/* Appends s as a quoted JSON string, escaped as serde_json and Python's
 * json module do (\" \\ \b \f \n \r \t, other controls \u00xx, the rest
 * verbatim). Invalid UTF-8, or a control character when allow_control is
 * false, is DC_E_INVALID with a message naming func and what. */
dc_status dc__json_write_string(dc_strbuf *b, const char *s, bool allow_control,
                                const char *func, const char *what);

#endif

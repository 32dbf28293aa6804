#include "addition.h"

#include "corpus.h"

#include <math.h>
#include <string.h>

#define RANGE 100000    /* 10^SC_ADD_DIGITS */

void sc_add_format(int64_t a, int64_t b, char out[SC_ADD_LEN + 1]) {
    int64_t s = a + b;
    for (int i = SC_ADD_DIGITS - 1; i >= 0; i--, a /= 10) out[i] = (char)('0' + a % 10);
    out[SC_ADD_DIGITS] = '+';
    for (int i = 2 * SC_ADD_DIGITS; i > SC_ADD_DIGITS; i--, b /= 10)
        out[i] = (char)('0' + b % 10);
    out[2 * SC_ADD_DIGITS + 1] = '=';
    for (int i = SC_ADD_LEN - 1; i > 2 * SC_ADD_DIGITS + 1; i--, s /= 10)
        out[i] = (char)('0' + s % 10);
    out[SC_ADD_LEN] = '\0';
}

/* A hash of the pair, not a rule a model could see (such as "a ends in
 * 7"): the bucket is a random-looking 2% of all pairs. */
int sc_add_is_held_out(int64_t a, int64_t b) {
    uint64_t state = (uint64_t)a * RANGE + (uint64_t)b;
    return sc_random_next(&state) % SC_ADD_HELD_OUT_OF == 0;
}

void sc_add_draw_train(uint64_t *state, int64_t *a, int64_t *b) {
    do {
        *a = (int64_t)(sc_random_next(state) % RANGE);
        *b = (int64_t)(sc_random_next(state) % RANGE);
    } while (sc_add_is_held_out(*a, *b));
}

void sc_add_test_set(int64_t n, int64_t *a, int64_t *b) {
    uint64_t state = 0x5ca1ab1e;
    for (int64_t i = 0; i < n;) {
        int64_t x = (int64_t)(sc_random_next(&state) % RANGE);
        int64_t y = (int64_t)(sc_random_next(&state) % RANGE);
        int dup = !sc_add_is_held_out(x, y);
        for (int64_t j = 0; j < i && !dup; j++) dup = a[j] == x && b[j] == y;
        if (!dup) {
            a[i] = x;
            b[i] = y;
            i++;
        }
    }
}

static int64_t token_of(char ch) {
    return ch == '+' ? SC_ADD_PLUS : ch == '=' ? SC_ADD_EQUALS : ch - '0';
}

void sc_add_tokens(int64_t a, int64_t b, int64_t *x, int64_t *y) {
    char text[SC_ADD_LEN + 1];
    sc_add_format(a, b, text);
    for (int i = 0; i < SC_ADD_INPUT; i++) {
        x[i] = token_of(text[i]);
        y[i] = i >= SC_ADD_FIRST_ANSWER_POS ? token_of(text[i + 1]) : SC_ADD_IGNORE;
    }
}

void sc_add_score(const float *logits, const int64_t *answers, int64_t n,
                  sc_add_metrics *m) {
    memset(m, 0, sizeof *m);
    int64_t right_total = 0;
    for (int64_t i = 0; i < n; i++) {
        int all_right = 1;
        for (int k = 0; k < SC_ADD_ANSWER; k++) {
            const float *z = logits + (i * SC_ADD_ANSWER + k) * SC_ADD_VOCAB;
            int best = 0;
            double top = z[0];
            for (int v = 1; v < SC_ADD_VOCAB; v++)
                if (z[v] > top) top = z[best = v];
            double sum = 0;
            for (int v = 0; v < SC_ADD_VOCAB; v++) sum += exp(z[v] - top);
            int64_t want = answers[i * SC_ADD_ANSWER + k];
            m->loss += top + log(sum) - z[want];
            if (best == want) {
                m->position[k] += 1;
                right_total++;
            } else {
                all_right = 0;
            }
        }
        m->exact += all_right;
    }
    if (n <= 0) return;
    m->exact /= (double)n;
    m->digit = (double)right_total / (double)(n * SC_ADD_ANSWER);
    for (int k = 0; k < SC_ADD_ANSWER; k++) m->position[k] /= (double)n;
    m->loss /= (double)(n * SC_ADD_ANSWER);
}

double sc_add_position_product(const sc_add_metrics *m) {
    double p = 1;
    for (int k = 0; k < SC_ADD_ANSWER; k++) p *= m->position[k];
    return p;
}

/* The scaling study's units (examples/scaling): the power-law fits on
 * synthetic points with a known exponent and offset, the addition task's
 * text, tokens and held-out split, its metrics on hand-made logits, the
 * corpus split, the CSV rows and the per-size summary. The study's
 * program itself runs on a tiny ladder in the 'examples' suite
 * (examples/scaling/check_tiny.sh). */
#include "testutil.h"

#include "../examples/scaling/addition.h"
#include "../examples/scaling/corpus.h"
#include "../examples/scaling/fit.h"
#include "../examples/scaling/report.h"
#include "../examples/scaling/results.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The study's ladder of non-embedding parameter counts (about). */
static const double ladder_n[] = {3.3e3, 1.3e4, 2.5e4, 5.7e4, 1.0e5, 2.2e5, 3.4e5, 7.9e5};
#define LADDER 8

START_TEST(plain_fit_recovers_a_known_exponent) {
    double loss[LADDER];
    for (int i = 0; i < LADDER; i++) loss[i] = 4.2 * pow(ladder_n[i], -0.073);
    sc_power_fit f;
    ck_assert_int_eq(sc_fit_power(ladder_n, loss, LADDER, &f), 0);
    ck_assert_double_eq_tol(f.alpha, 0.073, 1e-12);
    ck_assert_double_eq_tol(f.a, 4.2, 1e-10);
    ck_assert_double_eq_tol(f.r2, 1.0, 1e-12);
    ck_assert(f.c == 0);
    /* Noise lowers R^2 below 1 but leaves the exponent near. */
    for (int i = 0; i < LADDER; i++) loss[i] *= 1 + 0.01 * (i % 2 ? 1 : -1);
    ck_assert_int_eq(sc_fit_power(ladder_n, loss, LADDER, &f), 0);
    ck_assert(f.r2 < 0.999 && f.r2 > 0.9);
    ck_assert_double_eq_tol(f.alpha, 0.073, 0.01);
}
END_TEST

START_TEST(offset_fit_recovers_exponent_and_offset) {
    double loss[LADDER];
    for (int i = 0; i < LADDER; i++) loss[i] = 5.0 * pow(ladder_n[i], -0.3) + 1.2;
    sc_power_fit f, plain;
    ck_assert_int_eq(sc_fit_power_offset(ladder_n, loss, LADDER, &f), 0);
    ck_assert_double_eq_tol(f.alpha, 0.3, 1e-4);
    ck_assert_double_eq_tol(f.c, 1.2, 1e-4);
    ck_assert_double_eq_tol(f.a, 5.0, 1e-2);
    ck_assert(f.r2 > 1 - 1e-9);
    /* Without the offset the same points give a flatter, worse law. */
    ck_assert_int_eq(sc_fit_power(ladder_n, loss, LADDER, &plain), 0);
    ck_assert(plain.alpha < 0.2);
    ck_assert(plain.r2 < 0.999);
    /* Pure power-law points: the offset found is (near) zero. */
    for (int i = 0; i < LADDER; i++) loss[i] = 3.0 * pow(ladder_n[i], -0.1);
    ck_assert_int_eq(sc_fit_power_offset(ladder_n, loss, LADDER, &f), 0);
    ck_assert_double_eq_tol(f.c, 0.0, 1e-3);
    ck_assert_double_eq_tol(f.alpha, 0.1, 1e-3);
}
END_TEST

START_TEST(fits_refuse_unusable_points) {
    sc_power_fit f;
    double n[3] = {10, 100, 1000}, l[3] = {2, 1.5, 1};
    ck_assert_int_eq(sc_fit_power(n, l, 1, &f), -1);
    ck_assert_int_eq(sc_fit_power_offset(n, l, 2, &f), -1);
    double same[3] = {10, 10, 10};
    ck_assert_int_eq(sc_fit_power(same, l, 3, &f), -1);
    double zero_loss[3] = {2, 0, 1};
    ck_assert_int_eq(sc_fit_power(n, zero_loss, 3, &f), -1);
    ck_assert_int_eq(sc_fit_power_offset(n, zero_loss, 3, &f), -1);
    double bad_n[3] = {10, -1, 1000};
    ck_assert_int_eq(sc_fit_power(bad_n, l, 3, &f), -1);
    double with_nan[3] = {2, NAN, 1};
    ck_assert_int_eq(sc_fit_power(n, with_nan, 3, &f), -1);
}
END_TEST

START_TEST(addition_text_is_zero_padded_most_significant_first) {
    char text[SC_ADD_LEN + 1];
    sc_add_format(1234, 56789, text);
    ck_assert_str_eq(text, "01234+56789=058023");
    sc_add_format(0, 0, text);
    ck_assert_str_eq(text, "00000+00000=000000");
    sc_add_format(99999, 99999, text);
    ck_assert_str_eq(text, "99999+99999=199998");
    sc_add_format(50000, 7, text);
    ck_assert_str_eq(text, "50000+00007=050007");
}
END_TEST

START_TEST(addition_tokens_score_only_the_answer) {
    int64_t x[SC_ADD_INPUT], y[SC_ADD_INPUT];
    sc_add_tokens(1234, 56789, x, y);
    /* "01234+56789=05802" in, the next character out on answer positions */
    const int64_t want_x[SC_ADD_INPUT] = {0, 1, 2, 3, 4, SC_ADD_PLUS, 5, 6, 7, 8, 9,
                                          SC_ADD_EQUALS, 0, 5, 8, 0, 2};
    const int64_t want_y[SC_ADD_INPUT] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          0, 5, 8, 0, 2, 3};
    for (int i = 0; i < SC_ADD_INPUT; i++) {
        ck_assert_int_eq(x[i], want_x[i]);
        ck_assert_int_eq(y[i], want_y[i]);
    }
    ck_assert_int_eq(SC_ADD_IGNORE, -1);
    ck_assert_int_eq(SC_ADD_FIRST_ANSWER_POS, 11);
}
END_TEST

START_TEST(held_out_problems_are_never_drawn_for_training) {
    /* The bucket is about 2% of all pairs. */
    uint64_t state = 42;
    int held = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t a = (int64_t)(sc_random_next(&state) % 100000);
        int64_t b = (int64_t)(sc_random_next(&state) % 100000);
        held += sc_add_is_held_out(a, b);
    }
    ck_assert_int_gt(held, 1500);
    ck_assert_int_lt(held, 2500);
    /* The test set: held out, distinct, the same every time. */
    enum { N_TEST = 500 };
    int64_t ta[N_TEST], tb[N_TEST], ua[N_TEST], ub[N_TEST];
    sc_add_test_set(N_TEST, ta, tb);
    sc_add_test_set(N_TEST, ua, ub);
    for (int i = 0; i < N_TEST; i++) {
        ck_assert(sc_add_is_held_out(ta[i], tb[i]));
        ck_assert(ta[i] == ua[i] && tb[i] == ub[i]);
        ck_assert(ta[i] >= 0 && ta[i] < 100000 && tb[i] >= 0 && tb[i] < 100000);
        for (int j = 0; j < i; j++) ck_assert(!(ta[i] == ta[j] && tb[i] == tb[j]));
    }
    /* Training draws (a full study's worth for one run) are never held
       out, so never in the test set; and they do cover the ranges. */
    state = 7;
    int64_t lo = 100000, hi = -1;
    for (int i = 0; i < 2000 * 64; i++) {
        int64_t a, b;
        sc_add_draw_train(&state, &a, &b);
        ck_assert(!sc_add_is_held_out(a, b));
        lo = a < lo ? a : lo;
        hi = b > hi ? b : hi;
    }
    ck_assert_int_lt(lo, 100);
    ck_assert_int_gt(hi, 99900);
}
END_TEST

/* Logits that put probability 1/2 on class `pick` (logit log 11, the 11
 * others 0). */
static void set_logits(float *z, int pick) {
    for (int v = 0; v < SC_ADD_VOCAB; v++) z[v] = 0;
    z[pick] = (float)log(11.0);
}

START_TEST(addition_metrics_on_hand_made_predictions) {
    const int64_t answers[2 * SC_ADD_ANSWER] = {0, 5, 8, 0, 2, 3, 1, 9, 9, 9, 9, 8};
    float logits[2 * SC_ADD_ANSWER * SC_ADD_VOCAB];
    for (int i = 0; i < 2 * SC_ADD_ANSWER; i++)
        set_logits(logits + i * SC_ADD_VOCAB, (int)answers[i]);
    /* Problem 2 gets its fourth digit wrong (7 for 9). */
    set_logits(logits + (SC_ADD_ANSWER + 3) * SC_ADD_VOCAB, 7);
    sc_add_metrics m;
    sc_add_score(logits, answers, 2, &m);
    ck_assert_double_eq_tol(m.exact, 0.5, 1e-12);
    ck_assert_double_eq_tol(m.digit, 11.0 / 12.0, 1e-12);
    for (int k = 0; k < SC_ADD_ANSWER; k++)
        ck_assert_double_eq_tol(m.position[k], k == 3 ? 0.5 : 1.0, 1e-12);
    ck_assert_double_eq_tol(sc_add_position_product(&m), 0.5, 1e-12);
    /* 11 answer tokens at probability 1/2, one at 1/22 */
    ck_assert_double_eq_tol(m.loss, (11 * log(2.0) + log(22.0)) / 12, 1e-6);
    /* All wrong: every metric 0. */
    for (int i = 0; i < 2 * SC_ADD_ANSWER; i++)
        set_logits(logits + i * SC_ADD_VOCAB, (int)(answers[i] + 1) % 10);
    sc_add_score(logits, answers, 2, &m);
    ck_assert(m.exact == 0 && m.digit == 0 && sc_add_position_product(&m) == 0);
}
END_TEST

START_TEST(median_of_odd_even_and_no_values) {
    double odd[3] = {3, 1, 2}, even[4] = {4, 1, 3, 2};
    ck_assert_double_eq(sc_median(odd, 3), 2);
    ck_assert_double_eq(sc_median(even, 4), 2.5);
    ck_assert(odd[0] == 1 && odd[2] == 3);   /* sorted: min first, max last */
    ck_assert(isnan(sc_median(NULL, 0)));
}
END_TEST

START_TEST(csv_rows_round_trip) {
    sc_row r = {2, 64, 2, 1, 98765, 1200, 0.51234, 0.61234,
                {0.25, 0.875, {1, 0.9, 0.8, 0.7, 0.6, 0.5}, 0.61234}, 0.0015, 42.5};
    char line[1024];
    FILE *f = fmemopen(line, sizeof line, "w");
    ck_assert_ptr_nonnull(f);
    sc_csv_row(f, SC_TASK_ADD, &r);
    fclose(f);
    int commas = 0;
    for (const char *p = line; *p; p++) commas += *p == ',';
    ck_assert_int_eq(commas + 1, sc_csv_columns(SC_TASK_ADD));
    sc_row back;
    ck_assert_int_eq(sc_csv_parse(line, SC_TASK_ADD, &back), 0);
    ck_assert_int_eq(back.layers, 2);
    ck_assert_int_eq(back.width, 64);
    ck_assert_int_eq(back.n_params, 98765);
    ck_assert_int_eq(back.step, 1200);
    ck_assert_double_eq_tol(back.val_loss, 0.61234, 1e-6);
    ck_assert_double_eq_tol(back.add.exact, 0.25, 1e-9);
    ck_assert_double_eq_tol(back.add.position[5], 0.5, 1e-9);
    ck_assert_double_eq_tol(back.seconds, 42.5, 1e-9);
    /* An LM row has fewer columns; a row cut short does not parse. */
    f = fmemopen(line, sizeof line, "w");
    sc_csv_row(f, SC_TASK_LM, &r);
    fclose(f);
    ck_assert_int_eq(sc_csv_parse(line, SC_TASK_LM, &back), 0);
    ck_assert_int_eq(sc_csv_parse(line, SC_TASK_ADD, &back), -1);
    ck_assert_int_eq(sc_csv_parse("1,16,1,3000,1", SC_TASK_LM, &back), -1);
}
END_TEST

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(corpus_holds_out_the_end_of_every_file) {
    char dir[] = "/tmp/test_scaling_XXXXXX", p1[64], p2[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(p1, sizeof p1, "%s/a.txt", dir);
    snprintf(p2, sizeof p2, "%s/b.txt", dir);
    /* 2000 bytes of 'a'..'j' ending in 200 'X', 1000 of 'k' ending in
       100 'Y' */
    char one[2001], two[1001];
    for (int i = 0; i < 2000; i++) one[i] = i >= 1800 ? 'X' : (char)('a' + i % 10);
    for (int i = 0; i < 1000; i++) two[i] = i >= 900 ? 'Y' : 'k';
    one[2000] = two[1000] = '\0';
    write_file(p1, one);
    write_file(p2, two);
    sc_corpus c;
    const char *paths[] = {dir};   /* a directory: its files in name order */
    ck_assert_int_eq(sc_corpus_load(&c, paths, 1), 0);
    ck_assert_int_eq(c.n_files, 2);
    ck_assert_int_eq(c.n_train, 1800 + 900);
    ck_assert_int_eq(c.n_val, 200 + 100);
    ck_assert_int_eq(c.vocab, 13);   /* a-k, X, Y */
    for (int64_t i = 0; i < c.n_val; i++)
        ck_assert_int_eq(c.chars[c.val[i]], i < 200 ? 'X' : 'Y');
    for (int64_t i = 0; i < c.n_train; i++)
        ck_assert(c.chars[c.train[i]] != 'X' && c.chars[c.train[i]] != 'Y');
    /* Windows: y is x shifted by one. */
    int64_t x[4 * 8], y[4 * 8];
    uint64_t state = 1;
    sc_corpus_train_batch(&c, &state, 4, 8, x, y);
    for (int b = 0; b < 4; b++)
        for (int t = 0; t + 1 < 8; t++) ck_assert_int_eq(y[b * 8 + t], x[b * 8 + t + 1]);
    sc_corpus_val_window(&c, 3, 4, 8, x, y);
    ck_assert_int_eq(c.chars[x[0]], 'Y');
    sc_corpus_free(&c);
    /* Files given one by one read the same. */
    const char *files[] = {p1, p2};
    ck_assert_int_eq(sc_corpus_load(&c, files, 2), 0);
    ck_assert_int_eq(c.n_train, 2700);
    sc_corpus_free(&c);
    /* Too little text, or a missing path, is refused. */
    write_file(p1, "tiny");
    const char *small[] = {p1}, *missing[] = {"/nonexistent/scaling"};
    ck_assert_int_eq(sc_corpus_load(&c, small, 1), -1);
    ck_assert_int_eq(sc_corpus_load(&c, missing, 1), -1);
    remove(p1);
    remove(p2);
    rmdir(dir);
}
END_TEST

/* A finished addition run: one row per evaluation, the last counts. */
static sc_row add_row(int layers, int width, int seed, long step, double exact) {
    sc_row r = {.layers = layers, .width = width, .seed = seed, .n_params = width == 16 ? 3000 : 12000,
                .step = step, .val_loss = 1.0};
    r.add.exact = exact;
    r.add.digit = 0.5 + exact / 2;
    for (int k = 0; k < SC_ADD_ANSWER; k++) r.add.position[k] = 1.0;
    return r;
}

START_TEST(summary_takes_medians_of_final_rows) {
    const int sizes[2][2] = {{1, 16}, {1, 32}};
    sc_row lm[4] = {{.layers = 1, .width = 16, .seed = 1, .n_params = 3000, .step = 10, .val_loss = 3},
                    {.layers = 1, .width = 16, .seed = 1, .n_params = 3000, .step = 20, .val_loss = 2},
                    {.layers = 1, .width = 32, .seed = 1, .n_params = 12000, .step = 10, .val_loss = 2.5},
                    {.layers = 1, .width = 32, .seed = 1, .n_params = 12000, .step = 20, .val_loss = 1.5}};
    /* 1x16: final exact 0.1, 0.0, 0.3 (the 0.9s are earlier steps);
       1x32: 0.6, 0.9, 0.2. */
    sc_row add[12] = {add_row(1, 16, 1, 10, 0.9), add_row(1, 16, 1, 20, 0.1),
                      add_row(1, 16, 2, 10, 0.9), add_row(1, 16, 2, 20, 0.0),
                      add_row(1, 16, 3, 10, 0.9), add_row(1, 16, 3, 20, 0.3),
                      add_row(1, 32, 1, 10, 0.0), add_row(1, 32, 1, 20, 0.6),
                      add_row(1, 32, 2, 10, 0.0), add_row(1, 32, 2, 20, 0.9),
                      add_row(1, 32, 3, 10, 0.0), add_row(1, 32, 3, 20, 0.2)};
    sc_size_summary per[2];
    sc_study_summary study;
    sc_summarise(sizes, 2, lm, 4, add, 12, per, &study);
    ck_assert_double_eq(per[0].lm_loss, 2);
    ck_assert_double_eq(per[1].lm_loss, 1.5);
    ck_assert_int_eq(per[0].add_runs, 3);
    ck_assert_double_eq_tol(per[0].em_median, 0.1, 1e-12);
    ck_assert_double_eq_tol(per[0].em_min, 0.0, 1e-12);
    ck_assert_double_eq_tol(per[0].em_max, 0.3, 1e-12);
    ck_assert_double_eq_tol(per[1].em_median, 0.6, 1e-12);
    ck_assert_double_eq_tol(per[1].digit_median, 0.8, 1e-12);
    ck_assert_int_eq(study.first_over_half, 1);
    ck_assert(study.have_fit && !study.have_offset_fit);   /* two sizes: no offset fit */
    ck_assert_double_eq_tol(study.fit.alpha, log(2 / 1.5) / log(12000.0 / 3000), 1e-12);
    /* exact vs product of positions (all 1.0 here): |1 - exact| */
    ck_assert_double_eq_tol(study.product_max_gap, 1.0, 1e-12);
    ck_assert_int_eq(study.product_rows, 12);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("scaling");
    TCase *fit = tu_tcase("fit");
    tcase_add_test(fit, plain_fit_recovers_a_known_exponent);
    tcase_add_test(fit, offset_fit_recovers_exponent_and_offset);
    tcase_add_test(fit, fits_refuse_unusable_points);
    suite_add_tcase(s, fit);
    TCase *add = tu_tcase("addition");
    tcase_add_test(add, addition_text_is_zero_padded_most_significant_first);
    tcase_add_test(add, addition_tokens_score_only_the_answer);
    tcase_add_test(add, held_out_problems_are_never_drawn_for_training);
    tcase_add_test(add, addition_metrics_on_hand_made_predictions);
    suite_add_tcase(s, add);
    TCase *data = tu_tcase("data");
    tcase_add_test(data, median_of_odd_even_and_no_values);
    tcase_add_test(data, csv_rows_round_trip);
    tcase_add_test(data, corpus_holds_out_the_end_of_every_file);
    tcase_add_test(data, summary_takes_medians_of_final_rows);
    suite_add_tcase(s, data);
    return s;
}

int main(void) { return tu_run(suite()); }

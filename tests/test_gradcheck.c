/* Every differentiable op against central finite differences (f64), and
 * a check that no op of the registry is left without a case. */
#include "gradcheck.h"

#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "autograd/op_list.h"

static const gc_case *const tables[] = {
    gc_cases_elementwise, gc_cases_reduce, gc_cases_views, gc_cases_matmul, gc_cases_custom,
    gc_cases_conv,        gc_cases_nn,
};

static int count_cases(void) {
    int n = 0;
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
        for (const gc_case *c = tables[t]; c->run; c++) n++;
    return n;
}

static const gc_case *case_at(int i) {
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
        for (const gc_case *c = tables[t]; c->run; c++)
            if (i-- == 0) return c;
    return NULL;
}

START_TEST(gradcheck_case) {
    const gc_case *c = case_at(_i);
    ck_assert_ptr_nonnull(c);
    c->run();
}
END_TEST

#define OP_ID(id, name, fn) id,
static const int all_ops[] = {DC_OP_LIST(OP_ID)};
#define OP_NAME(id, name, fn) name,
static const char *const all_names[] = {DC_OP_LIST(OP_NAME)};

START_TEST(every_op_has_a_gradcheck) {
    int missing = 0;
    char list[1024] = "";
    for (size_t k = 0; k < sizeof all_ops / sizeof *all_ops; k++) {
        int found = 0;
        for (int i = 0; i < count_cases(); i++)
            if (case_at(i)->op_id == all_ops[k]) found = 1;
        if (!found) {
            missing++;
            strncat(list, all_names[k], sizeof list - strlen(list) - 2);
            strncat(list, " ", sizeof list - strlen(list) - 1);
        }
    }
    ck_assert_msg(missing == 0, "%d ops have no gradient check: %s", missing, list);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gradcheck");
    TCase *tc = tu_tcase("ops");
    tcase_add_loop_test(tc, gradcheck_case, 0, count_cases());
    suite_add_tcase(s, tc);
    TCase *cov = tu_tcase("coverage");
    tcase_add_test(cov, every_op_has_a_gradcheck);
    suite_add_tcase(s, cov);
    return tu_run(s);
}

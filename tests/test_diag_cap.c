/* test_diag_cap.c - tq_diag_cap (formats/tq_error.h): the first max reports of bad rows
 * are passed on, in order, and every one is counted.
 */
#include <criterion/criterion.h>


#include "tq_error.h"

/* fn of the cap: the reports it is given are the first ones, in order (line 1, 2, ...). */
static void in_order(void *ctx, const tq_diag *d)
{
    uint64_t *passed = ctx;
    cr_assert_eq(d->line, ++*passed, "passed on in order");
}

Test(diag_cap, passes_on_the_first_max_and_counts_all)
{
    static const struct {
        const char *name;
        uint64_t max, reports, passed, more;
    } rows[] = {
        {"none", 3, 0, 0, 0},
        {"under the cap", 3, 2, 2, 0},
        {"at the cap", 3, 3, 3, 0},
        {"over the cap", 3, 7, 3, 4},
        {"a cap of 0", 0, 5, 0, 5},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t passed = 0;
        tq_diag_cap cap = {.max = rows[i].max, .fn = in_order, .ctx = &passed};
        for (uint64_t r = 1; r <= rows[i].reports; r++) {
            tq_diag d = {.line = r};
            tq_diag_cap_on_bad(&cap, &d);
        }
        cr_assert_eq(cap.n, rows[i].reports, "%s: counted", rows[i].name);
        cr_assert_eq(passed, rows[i].passed, "%s: passed on", rows[i].name);
        cr_assert_eq(tq_diag_cap_more(&cap), rows[i].more, "%s: more", rows[i].name);
    }
}

Test(diag_cap, without_fn_it_only_counts)
{
    tq_diag_cap cap = {.max = 2};
    tq_diag d = {.line = 1};
    for (int r = 0; r < 4; r++)
        tq_diag_cap_on_bad(&cap, &d);
    cr_assert_eq(cap.n, 4);
    cr_assert_eq(tq_diag_cap_more(&cap), 2);
}

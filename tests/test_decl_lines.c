/* test_decl_lines.c - tq_decl_same_lines() (engine/tq_rules.h): the event whose lines
 * are a declaration's lines exactly, the one test behind explain's and the upgrade's
 * backfill of line values.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "tq_rules.h"

/* A declaration of two lines and an AMEND that carries the same lines (other values). */
static void pair(tq_decl *d, tq_event *ev)
{
    static const struct { const char *hs, *permit; uint64_t qty; } lines[] = {
        {"85171300", "GP-1", 5}, {"84713020", "", 2}};
    memset(d, 0, sizeof *d);
    memset(ev, 0, sizeof *ev);
    ev->ev = TQ_EV_AMEND;
    ev->has = TQ_HAS_LINES;
    d->nlines = ev->nlines = 2;
    for (int l = 0; l < 2; l++) {
        strcpy(d->lines[l].hs, lines[l].hs);
        strcpy(ev->lines[l].hs, lines[l].hs);
        strcpy(d->lines[l].permit, lines[l].permit);
        strcpy(ev->lines[l].permit, lines[l].permit);
        d->lines[l].qty = ev->lines[l].qty = lines[l].qty;
        d->lines[l].value = 100;
        ev->lines[l].value = 700;
    }
}

static void no_lines(tq_event *ev) { ev->has = 0; }
static void one_line(tq_event *ev) { ev->nlines = 1; }
static void other_hs(tq_event *ev) { ev->lines[1].hs[7] = '1'; }
static void other_permit(tq_event *ev) { strcpy(ev->lines[0].permit, "GP-2"); }
static void no_permit(tq_event *ev) { ev->lines[0].permit[0] = '\0'; }
static void other_qty(tq_event *ev) { ev->lines[1].qty = 3; }
static void swapped(tq_event *ev)
{
    tq_line l = ev->lines[0];
    ev->lines[0] = ev->lines[1];
    ev->lines[1] = l;
}

Test(decl_lines, same_lines_are_hs_permit_and_qty_in_order)
{
    static const struct {
        const char *name;
        void (*change)(tq_event *ev);
    } rows[] = {
        {"no lines carried", no_lines}, {"fewer lines", one_line},
        {"another hs", other_hs},       {"another permit", other_permit},
        {"no permit", no_permit},       {"another qty", other_qty},
        {"the lines swapped", swapped},
    };
    tq_decl d;
    tq_event ev;
    pair(&d, &ev);
    cr_assert_eq(tq_decl_same_lines(&d, &ev), 1, "the same lines, other values");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        pair(&d, &ev);
        rows[i].change(&ev);
        cr_assert_eq(tq_decl_same_lines(&d, &ev), 0, "%s", rows[i].name);
    }
}

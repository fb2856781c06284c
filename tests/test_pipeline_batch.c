/* test_pipeline_batch.c - the pipeline's batch table (engine/tq_pipeline_batch.h) and
 * the memory its budget counts.
 *
 * What the determinism tests cannot see: a table finds exactly what was put in it
 * (also when crafted keys collide, past the switch to a mixing hash), keeps the bytes
 * a declaration replaces only from its first put, gives back what a much larger batch
 * needed (but never shrinks a table no batch used), finds a permit's use by name, and
 * the batch's budget counts what each declaration holds in the two tables.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tq_pipeline_batch.h"

static void put(pl_table *t, uint64_t key, const char *bytes)
{
    cr_assert_eq(pl_table_put(t, key, (const uint8_t *)bytes, strlen(bytes), OLD_NONE,
                              NULL, 0), TQ_OK);
}

/* got() - the bytes the table holds under key, as a string ("" when none). */
static const char *got(const pl_table *t, uint64_t key)
{
    static char buf[256];
    const decl_slot *s = pl_table_get(t, key);
    if (s == NULL)
        return "";
    memcpy(buf, t->arena + s->off, s->len);
    buf[s->len] = '\0';
    return buf;
}

Test(pipeline_batch, a_table_finds_what_was_put_and_nothing_else)
{
    pl_table t;
    cr_assert_eq(pl_table_init(&t, 4096), TQ_OK);
    cr_assert_str_eq(got(&t, 100000000016ull), "");
    put(&t, 100000000200ull, "two hundred");
    put(&t, 100000000016ull, "sixteen");
    put(&t, 100000000050ull, "fifty");
    cr_assert_str_eq(got(&t, 100000000016ull), "sixteen");
    cr_assert_str_eq(got(&t, 100000000050ull), "fifty");
    cr_assert_str_eq(got(&t, 100000000200ull), "two hundred");
    cr_assert_str_eq(got(&t, 100000000150ull), "");
    cr_assert_str_eq(got(&t, 100000000201ull), "");
    put(&t, 100000000050ull, "fifty, now longer than before");
    put(&t, 100000000016ull, "16");
    cr_assert_eq(t.nused, 3);
    cr_assert_str_eq(got(&t, 100000000050ull), "fifty, now longer than before");
    cr_assert_str_eq(got(&t, 100000000016ull), "16");
    pl_table_clear(&t);
    cr_assert_str_eq(got(&t, 100000000050ull), "");
    cr_assert_eq(t.nused, 0);
    pl_table_release(&t);
}

/* Keys a slot count apart all land on one slot while the table indexes by the key
 * itself; past a long probe run it switches to a mixing hash, and finds them all. */
Test(pipeline_batch, colliding_keys_are_all_found)
{
    pl_table t;
    cr_assert_eq(pl_table_init(&t, 4096), TQ_OK);
    for (uint64_t i = 1; i <= 1000; i++) {
        char b[32];
        snprintf(b, sizeof b, "n%llu", (unsigned long long)i);
        put(&t, 100000000000ull + i * 4096 * 4, b);
    }
    cr_assert(t.mixed, "a thousand colliding keys should switch the table to hashing");
    for (uint64_t i = 1; i <= 1000; i++) {
        char b[32];
        snprintf(b, sizeof b, "n%llu", (unsigned long long)i);
        cr_assert_str_eq(got(&t, 100000000000ull + i * 4096 * 4), b);
    }
    cr_assert_eq(t.nused, 1000);
    pl_table_release(&t);
}

/* What the store will hold under a key when the batch is committed is learnt when the
 * key first enters the batch; later puts of the same key keep it. */
Test(pipeline_batch, the_replaced_bytes_come_from_the_first_put)
{
    pl_table t;
    cr_assert_eq(pl_table_init(&t, 4096), TQ_OK);
    cr_assert_eq(pl_table_put(&t, 100000000001ull, (const uint8_t *)"new", 3, OLD_BYTES,
                              (const uint8_t *)"stored", 6), TQ_OK);
    cr_assert_eq(pl_table_put(&t, 100000000001ull, (const uint8_t *)"newer", 5, OLD_NONE,
                              NULL, 0), TQ_OK);
    const decl_slot *s = pl_table_get(&t, 100000000001ull);
    cr_assert_not_null(s);
    cr_assert_eq(s->old, OLD_BYTES);
    cr_assert_eq(s->olen, 6);
    cr_assert(memcmp(t.arena + s->ooff, "stored", 6) == 0);
    cr_assert(memcmp(t.arena + s->off, "newer", 5) == 0);
    pl_table_release(&t);
}

/* Memory: a table halves its slots after a batch that used under an eighth of them,
 * but not after no batch at all (the second table, before it was ever used), and an
 * arena four times larger than its last batch is given back. */
Test(pipeline_batch, a_table_gives_back_what_a_larger_batch_needed)
{
    pl_table t;
    cr_assert_eq(pl_table_init(&t, 1u << 16), TQ_OK);
    pl_table_clear(&t);
    cr_assert_eq(t.nslots, 1u << 16, "a table no batch used was shrunk");
    static char big[2048];
    memset(big, 'x', sizeof big - 1);
    for (uint64_t k = 1; k <= 2000; k++)
        put(&t, 100000000000ull + k, big);
    cr_assert_gt(t.acap, 1u << 20);
    pl_table_clear(&t);
    cr_assert_eq(t.nslots, 1u << 15, "2000 of 65536 slots used: the slots should halve");
    cr_assert_gt(t.acap, 0, "the arena held a batch as large as itself");
    put(&t, 100000000001ull, "small");
    pl_table_clear(&t);
    cr_assert_eq(t.acap, 0, "an arena four times its batch should be given back");
    cr_assert_eq(t.nslots, 1u << 14);
    for (uint64_t k = 1; k <= 3000; k++)
        put(&t, 100000000000ull + k, "y");
    cr_assert_str_eq(got(&t, 100000000000ull + 2999), "y");
    pl_table_clear(&t);
    cr_assert_eq(t.nslots, 1u << 14, "3000 of 16384 slots used: no shrink");
    pl_table_release(&t);
}

Test(pipeline_batch, a_permits_use_is_found_by_name)
{
    pl_table t;
    cr_assert_eq(pl_table_init(&t, 4096), TQ_OK);
    cr_assert_null(pl_table_find_use(&t, "GP-1"));
    cr_assert_eq(pl_table_note_use(&t, "GP-9", 9), TQ_OK);
    cr_assert_eq(pl_table_note_use(&t, "GP-1", 1), TQ_OK);
    cr_assert_eq(pl_table_note_use(&t, "0000002/BCT-XNK", 2), TQ_OK);
    pl_table_sort_uses(&t);
    cr_assert_eq(pl_table_find_use(&t, "GP-1")->used, 1);
    cr_assert_eq(pl_table_find_use(&t, "GP-9")->used, 9);
    cr_assert_eq(pl_table_find_use(&t, "0000002/BCT-XNK")->used, 2);
    cr_assert_null(pl_table_find_use(&t, "GP-2"));
    pl_table_clear(&t);
    cr_assert_null(pl_table_find_use(&t, "GP-1"));
    pl_table_release(&t);
}

Test(pipeline_batch, zeroed_memory_is_zero)
{
    size_t n = 3u << 20;
    unsigned char *p = pl_zalloc(n);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i += 4093)
        cr_assert_eq(p[i], 0);
    cr_assert_eq(p[n - 1], 0);
    free(p);
}

/* The budget counts held_per_decl beside the pages: before the first commit a
 * declaration is taken to cost 2 KiB of pages plus what it holds in the tables. */
Test(pipeline_batch, the_budget_counts_what_the_tables_hold)
{
    tq_replay_opts o = {.batch_bytes = (2048 + 896) * 10};
    replay_run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    cr_assert(!tq__replay_batch_full(&r, 5, 10), "the pages alone: room for 15");
    r.held_per_decl = 896;
    cr_assert(!tq__replay_batch_full(&r, 5, 6), "room for 11");
    cr_assert(tq__replay_batch_full(&r, 5, 7), "12 declarations pass a budget for 11");
}

/* tq_replay_fill.c - fill the gaps that --skip-corrupt left, from a repaired copy of
 * the journal.
 *
 * The copy must be the journal that was replayed: the frames the mark covers chain to
 * the mark (the chain includes the skipped frames' checksums, taken from their sound
 * headers), and each gap's frame has the recorded checksum and seq range.  The gap
 * events are applied in seq order through the same write transaction path as the serial
 * replay, after everything the journal applied since, and the gaps are deleted in the
 * same transaction: a fill is done entirely or not at all, and a second fill finds no
 * gap.  The changes the gap events make are added to the feed in that transaction too,
 * in the order they are applied (tq_apply_event()); a dry run commits none of them.
 *
 * Applied late, a gap's events may give another result than in journal order exactly
 * where order matters: a declaration with events both in the gap and after it, and a
 * quota permit used by gap events and by events after them (whoever comes first takes
 * the quota).  Those are found by reading the frames after the first gap again and are
 * reported for review, with the declarations naming such a permit.  The sets are bounded
 * (review_max entries each); past that they are counted and the list said incomplete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "../formats/tq_grow.h"
#include "tq_replay_int.h"

/* A bounded set of short strings, each kept NUL-padded in a slot of w bytes (an empty
 * slot starts with NUL; no element is ""): the declaration numbers (w 13) and the quota
 * permits (w TQ_PERMIT_MAX + 1) of the review.  Past max elements it only notes that
 * it is full. */
typedef struct sset {
    char *e;
    size_t w, n, cap, max;
    int full;
} sset;

typedef struct fill_run {
    tq_txn *t;
    const tq_fill_opts *o;
    tq_fill_stats *st;
    tq_diag *d;
    tq_journal_reader *r;
    tq_journal_mark mark;
    uint8_t *z, *raw;
    size_t zcap, rawcap;
    tq_gap *gaps;
    size_t ngaps, gapcap;
    tq_apply_scratch sc;
    sset gapdecl, straddle;      /* declarations with gap events; and events after too */
    sset gapperm, strperm;       /* quota permits named in the gap; and after it too */
    tq_decl decl;
} fill_run;

/* sset_find() - the slot of x, or the empty slot where it would go. */
static size_t sset_find(const sset *s, const char *x)
{
    size_t i = (size_t)XXH3_64bits(x, strlen(x)) & (s->cap - 1);
    while (s->e[i * s->w] != '\0' && strcmp(s->e + i * s->w, x) != 0)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static int sset_has(const sset *s, const char *x)
{
    return s->cap && s->e[sset_find(s, x) * s->w] != '\0';
}

/* sset_add() - x (shorter than s->w, not "") into s, unless s is full. */
static int sset_add(sset *s, const char *x)
{
    if (sset_has(s, x))
        return TQ_OK;
    if (s->n >= s->max) {
        s->full = 1;
        return TQ_OK;
    }
    if ((s->n + 1) * 2 > s->cap) {
        sset g = *s;
        g.cap = s->cap ? s->cap * 2 : 1024;
        if ((g.e = calloc(g.cap, s->w)) == NULL)
            return TQ_ERR_NOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (s->e[i * s->w] != '\0')
                memcpy(g.e + sset_find(&g, s->e + i * s->w) * s->w, s->e + i * s->w, s->w);
        free(s->e);
        *s = g;
    }
    snprintf(s->e + sset_find(s, x) * s->w, s->w, "%s", x);
    s->n++;
    return TQ_OK;
}

static int collect_gap(void *ctx, const tq_gap *g)
{
    fill_run *f = ctx;
    if (tq_grow((void **)&f->gaps, &f->gapcap, f->ngaps + 1, sizeof *f->gaps, 16) != TQ_OK)
        return TQ_ERR_NOMEM;
    f->gaps[f->ngaps++] = *g;
    return 0;
}

/* gap_of() - the recorded gap of frame index, or NULL. */
static const tq_gap *gap_of(const fill_run *f, uint64_t index)
{
    for (size_t i = 0; i < f->ngaps; i++)
        if (f->gaps[i].frame == index)
            return &f->gaps[i];
    return NULL;
}

/* note_permit() - one permit named by an event's declaration: in the gap, added to the
 * gap's set when it has a quota; after it, marked straddling when the gap named it. */
static int note_permit(fill_run *f, const char *name, int in_gap)
{
    if (!in_gap)
        return sset_has(&f->gapperm, name) ? sset_add(&f->strperm, name) : TQ_OK;
    if (sset_has(&f->gapperm, name))
        return TQ_OK;
    tq_permit p;
    int rc = tq_store_get_permit(f->t, name, &p);
    if (rc == TQ_OK && p.quota > 0)
        return sset_add(&f->gapperm, name);
    return rc == TQ_ERR_NOTFOUND ? TQ_OK : rc;
}

/* note_permits() - the permits of ev's declaration: those its own lines name (a DECL or
 * an AMEND of lines) and those of the declaration as it now stands. */
static int note_permits(fill_run *f, const tq_event *ev, int in_gap)
{
    int rc = TQ_OK;
    if (ev->has & TQ_HAS_LINES)
        for (uint16_t i = 0; i < ev->nlines && rc == TQ_OK; i++)
            if (ev->lines[i].permit[0])
                rc = note_permit(f, ev->lines[i].permit, in_gap);
    if (rc != TQ_OK)
        return rc;
    rc = tq_store_get_decl(f->t, ev->decl_no, &f->decl);
    if (rc == TQ_ERR_NOTFOUND)
        return TQ_OK;
    const char *names[TQ_LINES_MAX];
    size_t n = rc == TQ_OK ? tq_rules_permits(&f->decl, names) : 0;
    for (size_t i = 0; i < n && rc == TQ_OK; i++)
        rc = note_permit(f, names[i], in_gap);
    return rc;
}

/* fill_event() - the accounting of one gap event applied: counted, and its
 * declaration and quota permits noted for the review. */
static int fill_event(void *ctx, const tq_event *ev, tq_step step)
{
    fill_run *f = ctx;
    f->st->events++;
    if (step == TQ_STEP_EVALUATE || step == TQ_STEP_EVALUATE_MANUAL || step == TQ_STEP_DONE)
        f->st->applied++;
    int rc = sset_add(&f->gapdecl, ev->decl_no);
    return rc == TQ_OK ? note_permits(f, ev, 1) : rc;
}

/* fill_frame() - a gap frame of the copy: the recorded one, sound, applied now. */
static int fill_frame(fill_run *f, const tq_frame_info *info, const tq_gap *g)
{
    uint64_t last = info->first_seq + info->count - 1;
    if (info->checksum != g->checksum || info->first_seq != g->first || last != g->last)
        return tq_diag_set(f->d, "(frame)",
                           "frame %llu of the copy (seq %llu..%llu) is not the frame that "
                           "was skipped (seq %llu..%llu, another checksum)",
                           (unsigned long long)info->index,
                           (unsigned long long)info->first_seq, (unsigned long long)last,
                           (unsigned long long)g->first, (unsigned long long)g->last),
               TQ_ERR_MISMATCH;
    return tq__replay_apply_frame(f->t, info, f->raw, tq_journal_id(f->r), &f->sc, f->d,
                                  fill_event, f);
}

/* after_frame() - a frame applied before, after a gap: which of its events straddle. */
static int after_frame(fill_run *f, const tq_frame_info *info)
{
    tq_frame_cursor c;
    tq_event ev;
    int rc;
    tq_frame_cursor_init(&c, info, f->raw);
    while ((rc = tq_frame_cursor_next(&c, &ev)) == TQ_OK) {
        if (sset_has(&f->gapdecl, ev.decl_no) && (rc = sset_add(&f->straddle, ev.decl_no)) != TQ_OK)
            return rc;
        if (f->gapperm.n && (rc = note_permits(f, &ev, 0)) != TQ_OK)
            return tq__replay_db_error(f->d, f->t, rc, ev.seq);
    }
    return rc == TQ_ERR_EOF ? TQ_OK : rc;
}

/* walk() - every frame the mark covers: chain them, fill the gaps, find the review. */
static int walk(fill_run *f)
{
    uint64_t chain = 0, last_seq = 0;
    int seen_gap = 0;
    tq_frame_info info;
    for (uint64_t i = 0; i < f->mark.frames; i++) {
        int rc = tq_journal_read_frame(f->r, &info, &f->z, &f->zcap);
        if (rc != TQ_OK)
            return tq_diag_set(f->d, "(frame)",
                               "the copy ends or is damaged at frame %llu, before the %llu "
                               "frames that were replayed", (unsigned long long)i,
                               (unsigned long long)f->mark.frames),
                   rc == TQ_ERR_CORRUPT ? TQ_ERR_CORRUPT : TQ_ERR_MISMATCH;
        chain = tq_replay_chain(chain, info.checksum);
        last_seq = info.first_seq + info.count - 1;
        const tq_gap *g = gap_of(f, i);
        if (g == NULL && !seen_gap)
            continue;        /* before any gap: the chain is all that matters */
        rc = tq_journal_frame_decode(&info, f->z, &f->raw, &f->rawcap);
        if (rc == TQ_OK)
            rc = tq__replay_check_frame(&info, f->raw);
        if (rc == TQ_ERR_CORRUPT || rc == TQ_ERR_LIMIT)
            return tq_diag_set(f->d, "(frame)", "frame %llu (seq %llu..%llu) of the copy "
                               "is corrupt too", (unsigned long long)i,
                               (unsigned long long)info.first_seq,
                               (unsigned long long)last_seq), rc;
        if (rc == TQ_OK)
            rc = g ? fill_frame(f, &info, g) : after_frame(f, &info);
        if (rc != TQ_OK)
            return rc;
        seen_gap |= g != NULL;
        f->st->gaps_filled += g != NULL;
    }
    if (chain != f->mark.chain || last_seq != f->mark.last_seq)
        return tq_diag_set(f->d, "(journal)", "the copy's frames differ from the journal "
                           "replayed before (through seq %llu): not a copy of it",
                           (unsigned long long)f->mark.last_seq), TQ_ERR_MISMATCH;
    if (f->st->gaps_filled != f->ngaps)
        return tq_diag_set(f->d, "(journal)", "a recorded gap lies past the frames the "
                           "mark covers"), TQ_ERR_MISMATCH;
    return TQ_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* report_set() - a set's elements, sorted, to the review callback (the set stays as
 * it is: by_permit() looks permits up in it afterwards). */
static int report_set(fill_run *f, const sset *s, char kind)
{
    char *v = malloc((s->n ? s->n : 1) * s->w);
    if (v == NULL)
        return TQ_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < s->cap; i++)
        if (s->e[i * s->w] != '\0')
            memcpy(v + n++ * s->w, s->e + i * s->w, s->w);
    qsort(v, n, s->w, cmp_str);
    for (size_t i = 0; i < n && f->o->review; i++)
        f->o->review(f->o->review_ctx, kind, v + i * s->w);
    free(v);
    return TQ_OK;
}

/* by_permit() - each declaration naming a straddling quota permit. */
static int by_permit(void *ctx, const tq_decl *d)
{
    fill_run *f = ctx;
    const char *names[TQ_LINES_MAX];
    size_t n = tq_rules_permits(d, names);
    for (size_t i = 0; i < n; i++)
        if (sset_has(&f->strperm, names[i])) {
            f->st->review_by_permit++;
            if (f->o->review)
                f->o->review(f->o->review_ctx, 'd', d->decl_no);
            break;
        }
    return 0;
}

static int delete_gaps(fill_run *f)
{
    for (size_t i = 0; i < f->ngaps; i++) {
        int rc = tq_store_del_gap(f->t, f->gaps[i].id, f->gaps[i].first);
        if (rc != TQ_OK)
            return tq__replay_db_error(f->d, f->t, rc, 0);
    }
    return TQ_OK;
}

/* fill() - in f->t: find the gaps, walk, delete, report, commit. */
static int fill(fill_run *f)
{
    const uint8_t *id = tq_journal_id(f->r);
    int rc = tq_store_get_journal(f->t, id, &f->mark);
    if (rc == TQ_ERR_NOTFOUND)
        return TQ_OK;        /* never replayed: no gap */
    if (rc == TQ_OK)
        rc = tq_store_each_gap(f->t, id, collect_gap, f);
    if (rc != TQ_OK)
        return tq__replay_db_error(f->d, f->t, rc, 0);
    f->st->gaps = f->ngaps;
    if (f->ngaps == 0)
        return TQ_OK;
    if ((rc = walk(f)) != TQ_OK || (rc = delete_gaps(f)) != TQ_OK)
        return rc;
    f->st->review_decls = f->straddle.n;
    f->st->review_permits = f->strperm.n;
    f->st->review_truncated = f->gapdecl.full || f->straddle.full || f->gapperm.full ||
                              f->strperm.full;
    if (f->straddle.n && (rc = report_set(f, &f->straddle, 'D')) != TQ_OK)
        return rc;
    if (f->strperm.n) {
        if ((rc = report_set(f, &f->strperm, 'P')) != TQ_OK)
            return rc;
        if ((rc = tq_store_each_decl(f->t, by_permit, f)) != TQ_OK)
            return tq__replay_db_error(f->d, f->t, rc, 0);
    }
    if (f->o->dry_run)
        return TQ_OK;
    rc = tq_txn_commit(f->t);
    f->t = NULL;
    return rc;
}

static void fill_release(fill_run *f)
{
    tq_txn_abort(f->t);
    tq_journal_close(f->r);
    tq_apply_scratch_release(&f->sc);
    free(f->z);
    free(f->raw);
    free(f->gaps);
    free(f->gapdecl.e);
    free(f->straddle.e);
    free(f->gapperm.e);
    free(f->strperm.e);
}

/* fill_once() - one attempt; TQ_ERR_MAPFULL means grow the map and try again. */
static int fill_once(tq_store *s, const char *path, const tq_fill_opts *o,
                     tq_fill_stats *stats, tq_diag *d)
{
    fill_run f;
    memset(&f, 0, sizeof f);
    memset(stats, 0, sizeof *stats);
    f.o = o;
    f.st = stats;
    f.d = d;
    uint64_t max = o->review_max ? o->review_max : 1000000;
    f.gapdecl.max = f.straddle.max = f.gapperm.max = f.strperm.max = max;
    f.gapdecl.w = f.straddle.w = TQ_DECL_NO_LEN + 1;
    f.gapperm.w = f.strperm.w = TQ_PERMIT_MAX + 1;
    int rc = tq_journal_open(path, &f.r);
    if (rc != TQ_OK) {
        tq_diag_set(d, "(journal)", "cannot open %s: %s", path, tq_strerror(rc));
        return rc;
    }
    memcpy(stats->journal_id, tq_journal_id(f.r), TQ_JOURNAL_ID_LEN);
    if ((rc = tq_txn_begin(s, 0, &f.t)) == TQ_OK)
        rc = fill(&f);
    fill_release(&f);
    return rc;
}

int tq_replay_fill_gap(tq_store *s, const char *path, const tq_fill_opts *opts,
                       tq_fill_stats *stats, tq_diag *d)
{
    static const tq_fill_opts none;
    int rc;
    while ((rc = fill_once(s, path, opts ? opts : &none, stats, d)) == TQ_ERR_MAPFULL)
        if ((rc = tq_store_grow(s)) != TQ_OK)
            break;
    return rc;
}

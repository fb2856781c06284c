#!/usr/bin/env bash
# Proves (issue 14 "install the library and its headers with a thongquan.pc"): the
# build tree's "dev" component installs libtq_formats.a, libtq_engine.a, the public
# headers under include/thongquan/{formats,engine}/ and lib/pkgconfig/thongquan.pc into
# a temporary prefix (DESTDIR too, so nothing can land outside it); then
#   * every installed header compiles on its own with `pkg-config --cflags thongquan`
#     (an engine header's "../formats/x.h" resolves in the installed tree, and no
#     header needs one that was not installed), and no *_int.h is installed;
#   * a small C program built with `pkg-config --cflags --libs thongquan` alone packs
#     NDJSON events into a journal with tq_journal_create/add/finish and reads it back
#     with tq_journal_open/next_event; `thongquan journal verify` accepts that journal
#     and `journal cat` prints exactly what `journal pack` makes of the same events;
#   * the .pc finds its prefix from its own place: the installed tree moved elsewhere
#     still builds.
# Exits 77 when cc or pkg-config is missing, or TQ_BUILD_DIR is not a build tree.
source "$(dirname "$0")/lib.sh"
command -v cc >/dev/null || { echo "skipped: no C compiler (cc)"; exit 77; }
command -v pkg-config >/dev/null || { echo "skipped: no pkg-config"; exit 77; }
B=${TQ_BUILD_DIR:-}
[ -n "$B" ] && [ -f "$B/CMakeCache.txt" ] || { echo "skipped: TQ_BUILD_DIR is not a build tree"; exit 77; }

# The program links the tree's own libraries: a sanitizer tree's need its runtime.
san=()
grep -q '^TQ_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" && san=(-fsanitize=address,undefined)
grep -q '^TQ_TSAN:BOOL=ON' "$B/CMakeCache.txt" && san=(-fsanitize=thread)

PREFIX=$WORK/prefix
DESTDIR=$WORK/dest cmake --install "$B" --prefix "$PREFIX" --component dev >"$WORK/install.log" 2>&1 ||
  fail "cmake --install --component dev: $(tail -20 "$WORK/install.log")"
ROOT=$WORK/dest$PREFIX
outside=$(cd "$WORK/dest" && find . -type f | grep -v "^\.$PREFIX/" || true)
[ -z "$outside" ] || fail "the dev component installs outside its prefix: $outside"
for f in libtq_formats.a libtq_engine.a pkgconfig/thongquan.pc \
         include/thongquan/formats/tq_journal.h include/thongquan/engine/tq_store.h; do
  (cd "$ROOT" && find . -type f | grep -q "/$f\$") || fail "not installed: $f ($(cd "$ROOT" && find . -type f | head -40))"
done
ok
[ -z "$(find "$ROOT/include" -name '*_int.h')" ] || fail "an internal header is installed: $(find "$ROOT/include" -name '*_int.h')"
ok

pcdir=$(dirname "$(find "$ROOT" -name thongquan.pc | head -n 1)")
export PKG_CONFIG_PATH=$pcdir
cflags=$(pkg-config --cflags thongquan) || fail "pkg-config --cflags thongquan"
libs=$(pkg-config --libs thongquan) || fail "pkg-config --libs thongquan"
[ "$(pkg-config --modversion thongquan)" = "$("$TQ" --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1)" ] ||
  fail "thongquan.pc's version $(pkg-config --modversion thongquan) is not the binary's: $("$TQ" --version)"
ok

# every header on its own
n=0
for h in $(cd "$ROOT/include/thongquan" && find . -name '*.h' | sort); do
  printf '#include "%s"\nint main(void) { return 0; }\n' "$(basename "$h")" >"$WORK/h.c"
  # shellcheck disable=SC2086
  cc -std=c11 -Wall -Wextra -Werror -c "$WORK/h.c" -o "$WORK/h.o" $cflags 2>"$WORK/cc.err" ||
    fail "installed header $h does not compile on its own: $(head -c 800 "$WORK/cc.err")"
  n=$((n + 1))
done
[ "$n" -ge 20 ] || fail "only $n headers installed"
ok
echo "$n installed headers compile on their own with: $cflags"

cat >"$WORK/queue.c" <<'EOF'
/* Packs the NDJSON events of argv[2] into the journal argv[1] with tq_journal_*, then
 * reads the journal back and prints how many events it holds and the last decl_no. */
#include <stdio.h>
#include <string.h>

#include "tq_journal.h"
#include "tq_ndjson.h"

static tq_event ev;

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    FILE *in = fopen(argv[2], "r");
    tq_journal_writer *w;
    if (in == NULL || tq_journal_create(argv[1], NULL, &w) != TQ_OK)
        return 1;
    char line[1 << 16];
    uint64_t seq = 0;
    while (fgets(line, sizeof line, in) != NULL) {
        tq_diag d = {0};
        if (tq_ndjson_parse_event(line, strcspn(line, "\n"), ++seq, &ev, &d) != TQ_OK ||
            tq_journal_add(w, &ev) != TQ_OK) {
            fprintf(stderr, "event %llu: %s: %s\n", (unsigned long long)seq, d.field, d.why);
            tq_journal_abandon(w);
            return 1;
        }
    }
    fclose(in);
    if (tq_journal_finish(w) != TQ_OK)
        return 1;

    tq_journal_reader *r;
    if (tq_journal_open(argv[1], &r) != TQ_OK)
        return 1;
    uint64_t n = 0;
    int rc;
    while ((rc = tq_journal_next_event(r, &ev, NULL)) == TQ_OK)
        n++;
    tq_journal_close(r);
    if (rc != TQ_ERR_EOF)
        return 1;
    printf("%llu %s\n", (unsigned long long)n, ev.decl_no);
    return 0;
}
EOF
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$WORK/queue" "$WORK/queue.c" $cflags $libs 2>"$WORK/cc.err" ||
  fail "a program with pkg-config --cflags --libs thongquan does not build: $(head -c 1200 "$WORK/cc.err")"
ok

"$TQ" gen --declarations 300 --seed 4 --out "$WORK/g" --quiet || fail "gen"
"$TQ" journal cat "$WORK/g/journal.tqj" | sed 's/^{"seq":[0-9]*,/{/' >"$WORK/events.ndjson" || fail "journal cat"
want=$(wc -l <"$WORK/events.ndjson")
last=$(tail -n 1 "$WORK/events.ndjson" | sed -n 's/.*"decl_no":"\([0-9]*\)".*/\1/p')
expect_status 0 "$WORK/queue" "$WORK/queued.tqj" "$WORK/events.ndjson"
[ "$(cat "$WORK/out")" = "$want $last" ] || fail "read back '$(cat "$WORK/out")', wanted '$want $last'"
expect_status 0 "$TQ" journal verify "$WORK/queued.tqj"
"$TQ" journal pack "$WORK/events.ndjson" -o "$WORK/packed.tqj" --quiet || fail "journal pack"
cmp -s <("$TQ" journal cat "$WORK/queued.tqj") <("$TQ" journal cat "$WORK/packed.tqj") ||
  fail "the program's journal is not what journal pack makes of the same events"
echo "a program built with pkg-config wrote $want events with tq_journal_*; read back, verified, same as journal pack"

# moved elsewhere, the .pc still finds its tree
mv "$WORK/dest" "$WORK/moved"
export PKG_CONFIG_PATH=${pcdir/$WORK\/dest/$WORK\/moved}
# shellcheck disable=SC2046
cc -std=c11 "${san[@]}" -o "$WORK/queue2" "$WORK/queue.c" $(pkg-config --cflags --libs thongquan) 2>"$WORK/cc.err" ||
  fail "the installed tree, moved, no longer builds: $(head -c 600 "$WORK/cc.err")"
ok
done_ok

/*  tb_loglimit: how many warn lines a peer may cause. A hostile peer can cause
    a refusal as often as it can open a connection or send a frame; logging
    each one would let it fill the disk and drown the lines that matter. A
    limiter remembers a bounded set of keys (a peer address, a role), lets each
    write `burst` lines per interval, all keys together `total` lines per
    interval, and counts what it held back so the next line can say so. */
#ifndef TB_LOGLIMIT_H
#define TB_LOGLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tb_loglimit_t tb_loglimit_t;

/*  A limiter of `slots` keys (a key past that replaces the least recently
    seen one), `burst` lines per key and `total` lines in all (0: no total) per
    `interval_us`. NULL when out of memory or an argument is 0. */
tb_loglimit_t *tb_loglimit_new(size_t slots, int burst, int total, int64_t interval_us);
void tb_loglimit_destroy(tb_loglimit_t **self_p);

/*  Whether a line about `key` may be written at `now_us` (monotonic). When it
    may, *suppressed is the number of lines about `key` held back since its
    last written line (then reset); when it may not, the event is counted.
    Keys are compared on their first 127 bytes. */
bool tb_loglimit_allow(tb_loglimit_t *self, const char *key, int64_t now_us,
                       uint64_t *suppressed);

/*  Lines held back since the start, all keys. */
uint64_t tb_loglimit_suppressed(const tb_loglimit_t *self);

#endif

/*  tb_loglimit: a bounded table of keys with a window of lines each. */
#include "tb_loglimit.h"

#include <stdlib.h>
#include <string.h>

#define S_KEY_MAX 128

typedef struct {
    char key[S_KEY_MAX];
    int64_t window_us; /* start of the key's current window; 0: empty slot */
    int64_t seen_us;   /* last event, for choosing whom to forget */
    int lines;         /* written in the current window */
    uint64_t held;     /* held back since the key's last written line */
} s_slot_t;

struct tb_loglimit_t {
    s_slot_t *slots;
    size_t nslots;
    int burst;
    int total;
    int64_t interval_us;
    int64_t window_us; /* the window of the total */
    int lines;         /* written in it, all keys */
    uint64_t held;     /* held back since the start */
};

tb_loglimit_t *tb_loglimit_new(size_t slots, int burst, int total, int64_t interval_us)
{
    if (slots == 0 || burst <= 0 || total < 0 || interval_us <= 0)
        return NULL;
    tb_loglimit_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc(slots, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->nslots = slots;
    self->burst = burst;
    self->total = total;
    self->interval_us = interval_us;
    return self;
}

void tb_loglimit_destroy(tb_loglimit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

/*  The slot of `key`, or the one to reuse for it (an empty one, else the one
    seen longest ago: a key that keeps coming back keeps its count). */
static s_slot_t *s_find(tb_loglimit_t *self, const char *key, bool *found)
{
    s_slot_t *victim = &self->slots[0];
    for (size_t i = 0; i < self->nslots; i++) {
        s_slot_t *s = &self->slots[i];
        if (s->window_us && strncmp(s->key, key, S_KEY_MAX - 1) == 0) {
            *found = true;
            return s;
        }
        if (victim->window_us && (!s->window_us || s->seen_us < victim->seen_us))
            victim = s;
    }
    *found = false;
    return victim;
}

bool tb_loglimit_allow(tb_loglimit_t *self, const char *key, int64_t now_us,
                       uint64_t *suppressed)
{
    if (suppressed)
        *suppressed = 0;
    if (!key)
        key = "";
    bool found;
    s_slot_t *s = s_find(self, key, &found);
    if (!found) {
        memset(s, 0, sizeof *s);
        strncpy(s->key, key, S_KEY_MAX - 1);
        s->window_us = now_us;
    }
    s->seen_us = now_us;
    if (now_us - s->window_us >= self->interval_us) {
        s->window_us = now_us;
        s->lines = 0;
    }
    if (now_us - self->window_us >= self->interval_us || self->window_us == 0) {
        self->window_us = now_us;
        self->lines = 0;
    }
    if (s->lines >= self->burst || (self->total > 0 && self->lines >= self->total)) {
        s->held++;
        self->held++;
        return false;
    }
    s->lines++;
    self->lines++;
    if (suppressed)
        *suppressed = s->held;
    s->held = 0;
    return true;
}

uint64_t tb_loglimit_suppressed(const tb_loglimit_t *self)
{
    return self ? self->held : 0;
}

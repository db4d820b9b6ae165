/*  notification_text: templates of notification texts, per language. */
#include "notification_text.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_embedded.h"
#include "tb_valid.h"

/* ---- what the code supplies ---- */

static const char *const s_p_names[NOTIFICATION_P_COUNT] = {
    [NOTIFICATION_P_KIND] = "kind",
    [NOTIFICATION_P_TITLE] = "title",
    [NOTIFICATION_P_ID] = "id",
    [NOTIFICATION_P_STATUS] = "status",
    [NOTIFICATION_P_FROM_STATUS] = "from_status",
    [NOTIFICATION_P_ACTOR] = "actor",
    [NOTIFICATION_P_REASON] = "reason",
    [NOTIFICATION_P_DATE] = "date",
    [NOTIFICATION_P_MATCH_ID] = "match_id",
    [NOTIFICATION_P_SCORE] = "score",
    [NOTIFICATION_P_OFFER_TITLE] = "offer_title",
    [NOTIFICATION_P_OFFER_ORG] = "offer_org",
    [NOTIFICATION_P_OFFER_CONTACT] = "offer_contact",
    [NOTIFICATION_P_NEED_TITLE] = "need_title",
    [NOTIFICATION_P_NEED_ORG] = "need_org",
    [NOTIFICATION_P_NEED_CONTACT] = "need_contact",
    [NOTIFICATION_P_NAME] = "name",
    [NOTIFICATION_P_EMAIL] = "email",
    [NOTIFICATION_P_PHONE] = "phone",
};

#define P(x)        (1u << NOTIFICATION_P_##x)
#define S_REQUEST_P (P(KIND) | P(TITLE) | P(ID))
#define S_MATCH_P                                                                        \
    (P(MATCH_ID) | P(SCORE) | P(OFFER_TITLE) | P(OFFER_ORG) | P(NEED_TITLE) | P(NEED_ORG))

/*  Every key a file defines, with the placeholders its template may use: the
    values notification_core passes when it renders that key. A key added here
    must be added to every file (loading fails until it is). */
static const struct {
    const char *key;
    uint32_t may_use;
} s_keys[] = {
    {"kind.offer", 0},
    {"kind.need", 0},
    /* Statuses a request can be in (proto Status); a status without a key here
       is written by its API name. */
    {"status.SUBMITTED", 0},
    {"status.PUBLISHED", 0},
    {"status.IN_NEGOTIATION", 0},
    {"status.AGREED", 0},
    {"status.REJECTED", 0},
    {"status.WITHDRAWN", 0},
    {"status.EXPIRED", 0},
    {"contact", P(NAME) | P(EMAIL)},
    {"contact.phone", P(PHONE)},
    {"contact.none", 0},
    {"status_changed", S_REQUEST_P | P(STATUS)},
    {"status_changed.was", P(FROM_STATUS)},
    {"status_changed.by", P(ACTOR)},
    {"status_changed.reason", P(REASON)},
    {"expiring", S_REQUEST_P | P(DATE)},
    {"match_proposed", S_MATCH_P},
    {"match_accepted", S_MATCH_P | P(OFFER_CONTACT) | P(NEED_CONTACT)},
    {"match_declined", S_MATCH_P},
    {"match_declined.reason", P(REASON)},
};

#define S_KEYS (sizeof s_keys / sizeof s_keys[0])

static int s_key_index(const char *key, size_t len)
{
    for (size_t i = 0; i < S_KEYS; i++)
        if (strlen(s_keys[i].key) == len && memcmp(s_keys[i].key, key, len) == 0)
            return (int)i;
    return -1;
}

static int s_p_index(const char *name, size_t len)
{
    for (int i = 0; i < NOTIFICATION_P_COUNT; i++)
        if (strlen(s_p_names[i]) == len && memcmp(s_p_names[i], name, len) == 0)
            return i;
    return -1;
}

/* ---- the table ---- */

/*  A piece of a template: literal bytes of `lit`, or a placeholder. */
typedef struct {
    int p; /* notification_p_t, or -1: literal */
    size_t off, len;
} s_seg_t;

typedef struct {
    char *lit; /* literal text, "{{" and "}}" already made single */
    s_seg_t *segs;
    size_t n_segs;
    uint32_t uses; /* placeholders used */
    int line;
} s_template_t;

typedef struct {
    bool loaded;
    char *name; /* the file, for messages */
    s_template_t items[S_KEYS];
} s_lang_t;

struct notification_text_t {
    s_lang_t langs[TB_LANG_COUNT];
};

static void s_lang_clear(s_lang_t *l)
{
    for (size_t i = 0; i < S_KEYS; i++) {
        free(l->items[i].lit);
        free(l->items[i].segs);
    }
    free(l->name);
    memset(l, 0, sizeof *l);
}

notification_text_t *notification_text_new(void)
{
    return calloc(1, sizeof(notification_text_t));
}

void notification_text_destroy(notification_text_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int i = 0; i < TB_LANG_COUNT; i++)
        s_lang_clear(&(*self_p)->langs[i]);
    free(*self_p);
    *self_p = NULL;
}

/* ---- parsing ---- */

static void s_err(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_err(char *err, size_t size, const char *fmt, ...)
{
    if (!err || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

/*  The placeholders `mask` holds, as "{a} {b}" (for messages). */
static void s_mask_names(uint32_t mask, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < NOTIFICATION_P_COUNT && used < size; i++)
        if (mask & (1u << i)) {
            int n = snprintf(out + used, size - used, "%s{%s}", used ? " " : "",
                             s_p_names[i]);
            if (n < 0)
                break;
            used += (size_t)n;
        }
    if (!out[0])
        snprintf(out, size, "none");
}

static bool s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/*  Compiles template `src` (`len` bytes) of key `k` into `t`. Returns 0, or
    -1 with the problem in `err` (without file and line, which the caller adds),
    or -2 when out of memory. */
static int s_compile(int k, const char *src, size_t len, s_template_t *t, char *err,
                     size_t err_size)
{
    const char *key = s_keys[k].key;
    /* At most one segment per byte, and the literal text is never longer. */
    t->lit = malloc(len + 1);
    t->segs = malloc((len + 1) * sizeof *t->segs);
    if (!t->lit || !t->segs)
        return -2;
    size_t lit = 0;
    for (size_t i = 0; i < len;) {
        char c = src[i];
        bool doubled = (c == '{' || c == '}') && i + 1 < len && src[i + 1] == c;
        if (doubled) {
            i += 2; /* "{{" or "}}": one literal brace */
        } else if (c == '}') {
            s_err(err, err_size,
                  "%s: unbalanced \"}\" (write \"}}\" for a literal brace)", key);
            return -1;
        } else if (c == '{') {
            const char *close = memchr(src + i + 1, '}', len - i - 1);
            if (!close) {
                s_err(err, err_size,
                      "%s: unbalanced \"{\" (write \"{{\" for a literal brace)", key);
                return -1;
            }
            const char *name = src + i + 1;
            size_t n = (size_t)(close - name);
            bool ok = n > 0;
            for (size_t j = 0; j < n && ok; j++)
                ok = s_name_char(name[j]);
            if (!ok) {
                s_err(err, err_size,
                      "%s: unbalanced \"{\" or a bad placeholder name (write \"{{\" for "
                      "a literal brace)",
                      key);
                return -1;
            }
            int p = s_p_index(name, n);
            if (p < 0 || !(s_keys[k].may_use & (1u << p))) {
                char names[256];
                s_mask_names(s_keys[k].may_use, names, sizeof names);
                s_err(err, err_size, "%s: placeholder {%.*s} is %s (it may use: %s)", key,
                      (int)(n > 40 ? 40 : n), name,
                      p < 0 ? "unknown" : "not available in this key", names);
                return -1;
            }
            t->segs[t->n_segs++] = (s_seg_t){.p = p};
            t->uses |= 1u << p;
            i += n + 2;
            continue;
        } else {
            i++;
        }
        /* One literal byte: extend the last literal segment or start one. */
        if (t->n_segs && t->segs[t->n_segs - 1].p < 0)
            t->segs[t->n_segs - 1].len++;
        else
            t->segs[t->n_segs++] = (s_seg_t){.p = -1, .off = lit, .len = 1};
        t->lit[lit++] = c;
    }
    t->lit[lit] = '\0';
    return 0;
}

static bool s_space(char c)
{
    return c == ' ' || c == '\t';
}

/*  Trims spaces and tabs off both ends of [*s, *s + *len). */
static void s_trim(const char **s, size_t *len)
{
    while (*len && s_space(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && s_space((*s)[*len - 1]))
        (*len)--;
}

/*  Parses one line (without its end) into `l`. Returns 0, -1 with the problem
    in `err`, or -2 when out of memory. */
static int s_parse_line(s_lang_t *l, const char *line, size_t len, int lineno, char *err,
                        size_t err_size)
{
    if (!tb_valid_utf8(line, len)) {
        s_err(err, err_size, "not valid UTF-8, or a control character");
        return -1;
    }
    s_trim(&line, &len);
    if (len == 0 || line[0] == '#')
        return 0;
    const char *eq = memchr(line, '=', len);
    if (!eq) {
        s_err(err, err_size, "expected KEY = template");
        return -1;
    }
    const char *key = line, *value = eq + 1;
    size_t key_len = (size_t)(eq - line), value_len = len - key_len - 1;
    s_trim(&key, &key_len);
    s_trim(&value, &value_len);
    int k = s_key_index(key, key_len);
    if (k < 0) {
        /* Data goes into the message as an argument, shortened. */
        s_err(err, err_size, "unknown key \"%.*s\"", (int)(key_len > 60 ? 60 : key_len),
              key);
        return -1;
    }
    s_template_t *t = &l->items[k];
    if (t->line) {
        s_err(err, err_size, "%s defined again (first at line %d)", s_keys[k].key,
              t->line);
        return -1;
    }
    /* Quotes keep spaces that trimming would take (" (was {from_status})"). */
    if (value_len && value[0] == '"') {
        if (value_len < 2 || value[value_len - 1] != '"') {
            s_err(err, err_size,
                  "%s: a template that begins with '\"' must end with '\"' (the quotes "
                  "are removed)",
                  s_keys[k].key);
            return -1;
        }
        value++;
        value_len -= 2;
    }
    if (value_len == 0) {
        s_err(err, err_size, "%s: empty template", s_keys[k].key);
        return -1;
    }
    if (value_len > NOTIFICATION_TEMPLATE_MAX) {
        s_err(err, err_size, "%s: template longer than %d bytes", s_keys[k].key,
              NOTIFICATION_TEMPLATE_MAX);
        return -1;
    }
    t->line = lineno;
    return s_compile(k, value, value_len, t, err, err_size);
}

int notification_text_load(notification_text_t *self, tb_lang_t lang, const char *name,
                           const char *src, size_t len, char *err, size_t err_size)
{
    s_err(err, err_size, "%s", "");
    if (lang <= TB_LANG_UNKNOWN || lang >= TB_LANG_COUNT || !src) {
        s_err(err, err_size, "%s: not a language of ours", name);
        return -1;
    }
    s_lang_t *l = calloc(1, sizeof *l);
    if (!l || !(l->name = strdup(name))) {
        free(l);
        s_err(err, err_size, "%s: out of memory", name);
        return -1;
    }
    /* A BOM is how some editors start UTF-8: not part of the first line. */
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0) {
        src += 3;
        len -= 3;
    }
    char problem[512];
    int rc = 0, lineno = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        const char *line = src + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        if (n && line[n - 1] == '\r')
            n--;
        rc = s_parse_line(l, line, n, lineno, problem, sizeof problem);
        if (rc == -1)
            s_err(err, err_size, "%s:%d: %s", name, lineno, problem);
        else if (rc == -2)
            s_err(err, err_size, "%s: out of memory", name);
    }
    for (size_t k = 0; k < S_KEYS && rc == 0; k++)
        if (!l->items[k].line) {
            s_err(err, err_size, "%s: missing key %s", name, s_keys[k].key);
            rc = -1;
        }
    if (rc != 0) {
        s_lang_clear(l);
        free(l);
        return -1;
    }
    l->loaded = true;
    s_lang_clear(&self->langs[lang]);
    self->langs[lang] = *l;
    free(l);
    return 0;
}

int notification_text_load_embedded(notification_text_t *self, char *err, size_t err_size)
{
    for (int i = TB_LANG_EN; i < TB_LANG_COUNT; i++) {
        char name[64];
        snprintf(name, sizeof name, "notifications/%s.txt", tb_lang_code((tb_lang_t)i));
        size_t len = 0;
        const char *src = tb_embedded_get(name, &len);
        if (!src) {
            /* Without be.txt, Belarusian organisations read Russian, which they
               all read (notification_text_resolve). */
            if (i == TB_LANG_BE)
                continue;
            s_err(err, err_size, "%s: not built into this binary (re-run cmake)", name);
            return -1;
        }
        if (notification_text_load(self, (tb_lang_t)i, name, src, len, err, err_size) !=
            0)
            return -1;
    }
    for (int i = TB_LANG_EN + 1; i < TB_LANG_COUNT; i++)
        if (self->langs[i].loaded &&
            notification_text_compare(self, (tb_lang_t)i, TB_LANG_EN, err, err_size) != 0)
            return -1;
    return 0;
}

int notification_text_compare(const notification_text_t *self, tb_lang_t lang,
                              tb_lang_t ref, char *err, size_t err_size)
{
    if (!notification_text_loaded(self, lang) || !notification_text_loaded(self, ref)) {
        s_err(err, err_size, "language \"%s\" or \"%s\" is not loaded",
              tb_lang_code(lang), tb_lang_code(ref));
        return -1;
    }
    const s_lang_t *l = &self->langs[lang], *r = &self->langs[ref];
    for (size_t k = 0; k < S_KEYS; k++) {
        uint32_t mine = l->items[k].uses, theirs = r->items[k].uses;
        if (mine == theirs)
            continue;
        char extra[256], lacking[256];
        s_mask_names(mine & ~theirs, extra, sizeof extra);
        s_mask_names(theirs & ~mine, lacking, sizeof lacking);
        s_err(err, err_size,
              "%s:%d: %s has other placeholders than at %s:%d (extra: %s; "
              "missing: %s)",
              l->name, l->items[k].line, s_keys[k].key, r->name, r->items[k].line, extra,
              lacking);
        return -1;
    }
    return 0;
}

bool notification_text_loaded(const notification_text_t *self, tb_lang_t lang)
{
    return lang > TB_LANG_UNKNOWN && lang < TB_LANG_COUNT && self->langs[lang].loaded;
}

tb_lang_t notification_text_resolve(const notification_text_t *self, tb_lang_t lang)
{
    if (notification_text_loaded(self, lang))
        return lang;
    if (lang == TB_LANG_BE && notification_text_loaded(self, TB_LANG_RU))
        return TB_LANG_RU;
    return TB_LANG_EN;
}

bool notification_text_has(const char *key)
{
    return key && s_key_index(key, strlen(key)) >= 0;
}

/* ---- rendering ---- */

static const char *s_value(const char *const *values, int p)
{
    return values && values[p] ? values[p] : "?";
}

int notification_text_add(const notification_text_t *self, tb_arena_t *arena,
                          tb_lang_t lang, const char *key, const char *const *values,
                          char **text)
{
    int k = key ? s_key_index(key, strlen(key)) : -1;
    lang = notification_text_resolve(self, lang);
    assert(k >= 0 && "not a notification_text key");
    assert(self->langs[lang].loaded && "notification texts not loaded");
    if (k < 0 || !self->langs[lang].loaded)
        return -1;
    const s_template_t *t = &self->langs[lang].items[k];
    size_t old = *text ? strlen(*text) : 0;
    /* Sizes first, so a huge value costs one allocation of the bound, no more. */
    size_t total = old;
    for (size_t i = 0; i < t->n_segs && total <= NOTIFICATION_TEXT_MAX; i++)
        total +=
            t->segs[i].p < 0 ? t->segs[i].len : strlen(s_value(values, t->segs[i].p));
    size_t cap = total < NOTIFICATION_TEXT_MAX ? total : NOTIFICATION_TEXT_MAX;
    char *out = tb_arena_alloc(arena, cap + 1);
    if (!out)
        return -1;
    size_t used = old < cap ? old : cap;
    memcpy(out, *text ? *text : "", used);
    for (size_t i = 0; i < t->n_segs && used < cap; i++) {
        const s_seg_t *s = &t->segs[i];
        const char *from = s->p < 0 ? t->lit + s->off : s_value(values, s->p);
        size_t n = s->p < 0 ? s->len : strlen(from);
        if (n > cap - used)
            n = cap - used;
        memcpy(out + used, from, n);
        used += n;
    }
    if (total > NOTIFICATION_TEXT_MAX) {
        /* Cut before the character the bound falls in, and say it was cut. */
        static const char ellipsis[] = "\xE2\x80\xA6";
        used = NOTIFICATION_TEXT_MAX - (sizeof ellipsis - 1);
        while (used > 0 && ((unsigned char)out[used] & 0xC0) == 0x80)
            used--;
        memcpy(out + used, ellipsis, sizeof ellipsis - 1);
        used += sizeof ellipsis - 1;
    }
    out[used] = '\0';
    *text = out;
    return 0;
}

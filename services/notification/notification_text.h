/*  notification_text: the words of notifications in each language, from the
    templates of deploy/notifications/<lang>.txt (embedded in the binary; the
    format is described at the top of en.txt).

    The keys a file must define, and the placeholders each template may use,
    are this module's: they are what the code supplies. Everything that can be
    wrong with a file (a missing or unknown key, an unknown placeholder, an
    unbalanced brace, a language whose placeholders differ from English's) is
    found when it is loaded, never when a notification is written. Rendering
    inserts values verbatim: no value is ever read as a format.

    A loaded table is only read, so several threads may render from it. */
#ifndef NOTIFICATION_TEXT_H
#define NOTIFICATION_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "tb_arena.h"
#include "tb_text.h"

/*  The most bytes one notification text holds; a longer one is cut at a
    character boundary and ends with "…". Values within the request rules
    (titles, names, reasons) never come near it. */
#define NOTIFICATION_TEXT_MAX (16 * 1024)
/*  The longest template a file may hold, in bytes. */
#define NOTIFICATION_TEMPLATE_MAX 2048

/*  The values a template may name, by placeholder. */
typedef enum {
    NOTIFICATION_P_KIND,          /* {kind}: the word for offer or need */
    NOTIFICATION_P_TITLE,         /* {title} */
    NOTIFICATION_P_ID,            /* {id}: a request id */
    NOTIFICATION_P_STATUS,        /* {status}: the word for a status */
    NOTIFICATION_P_FROM_STATUS,   /* {from_status} */
    NOTIFICATION_P_ACTOR,         /* {actor}: an org id or "operator" */
    NOTIFICATION_P_REASON,        /* {reason} */
    NOTIFICATION_P_DATE,          /* {date}: ISO 8601, UTC */
    NOTIFICATION_P_MATCH_ID,      /* {match_id} */
    NOTIFICATION_P_SCORE,         /* {score}: "0.78" */
    NOTIFICATION_P_OFFER_TITLE,   /* {offer_title} */
    NOTIFICATION_P_OFFER_ORG,     /* {offer_org}: its name, else its id */
    NOTIFICATION_P_OFFER_CONTACT, /* {offer_contact}: a rendered "contact" */
    NOTIFICATION_P_NEED_TITLE,    /* {need_title} */
    NOTIFICATION_P_NEED_ORG,      /* {need_org} */
    NOTIFICATION_P_NEED_CONTACT,  /* {need_contact} */
    NOTIFICATION_P_NAME,          /* {name}: a contact's */
    NOTIFICATION_P_EMAIL,         /* {email} */
    NOTIFICATION_P_PHONE,         /* {phone} */
    NOTIFICATION_P_COUNT
} notification_p_t;

typedef struct notification_text_t notification_text_t;

/*  An empty table (no language loaded). NULL when out of memory. */
notification_text_t *notification_text_new(void);
void notification_text_destroy(notification_text_t **self_p);

/*  Parses the templates of `lang` from `src` (`len` bytes, UTF-8; `name` names
    it in messages) and checks each against this module's keys. On success they
    replace what `lang` had. Returns 0, or -1 with one "NAME:LINE: problem" in
    `err` (`err_size` bytes, always terminated) and the table unchanged. */
int notification_text_load(notification_text_t *self, tb_lang_t lang, const char *name,
                           const char *src, size_t len, char *err, size_t err_size);

/*  Loads the embedded notifications/en.txt, ru.txt, zh.txt (required) and
    be.txt (when there is one), then checks that each language has, key by key,
    the placeholders of English. Returns 0, or -1 with the first problem in
    `err`. */
int notification_text_load_embedded(notification_text_t *self, char *err,
                                    size_t err_size);

/*  0 when `lang` and `ref` are both loaded and each template of `lang` uses
    exactly the placeholders of `ref`'s (in any order); else -1 with the first
    difference in `err`. */
int notification_text_compare(const notification_text_t *self, tb_lang_t lang,
                              tb_lang_t ref, char *err, size_t err_size);

/*  Whether `lang`'s own templates are loaded. */
bool notification_text_loaded(const notification_text_t *self, tb_lang_t lang);
/*  The language a text asked for in `lang` is written in: `lang` when loaded;
    Russian for Belarusian without be.txt (the language Belarusian organisations
    all read); English otherwise. */
tb_lang_t notification_text_resolve(const notification_text_t *self, tb_lang_t lang);
/*  Whether `key` is one of this module's keys ("status.PUBLISHED", ...). */
bool notification_text_has(const char *key);

/*  Renders template `key` in `lang` (notification_text_resolve decides which
    file) with `values` (indexed by notification_p_t; NULL entries, or NULL
    for a template without placeholders, read as "?") and appends it to *text
    (NULL: starts a new text), in the arena, at most NOTIFICATION_TEXT_MAX
    bytes in all. Returns 0, or -1 when the arena is full (or, a bug, `key` is
    not a key or no language is loaded). */
int notification_text_add(const notification_text_t *self, tb_arena_t *arena,
                          tb_lang_t lang, const char *key, const char *const *values,
                          char **text);

#endif

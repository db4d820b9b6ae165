/*  tbctl: shared declarations of the operators' tool. tbctl is a pure API
    client: every command is one or a few ApiRequest/ApiReply exchanges. */
#ifndef TBCTL_H
#define TBCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "api.pb-c.h"
#include "tb_arena.h"
#include "tb_client.h"

/*  Exit statuses. */
enum {
    TBCTL_EXIT_OK = 0,
    TBCTL_EXIT_API = 1,        /* the service answered with an error */
    TBCTL_EXIT_USAGE = 2,      /* bad command line */
    TBCTL_EXIT_UNAVAILABLE = 3 /* no reply within the timeout */
};

#define TBCTL_MAX_POS  32
#define TBCTL_MAX_OPTS 16
/*  The largest reply accepted (a page of 100 full requests fits easily). */
#define TBCTL_MAX_REPLY (16u * 1024 * 1024)

typedef enum { TBCTL_INTAKE, TBCTL_MATCHING, TBCTL_NOTIFICATION } tbctl_svc_t;

typedef struct {
    /* global settings */
    const char *endpoint[3]; /* by tbctl_svc_t */
    const char *pub_endpoint;
    const char *actor;   /* what ApiRequest.actor says ("" under keys unless --as) */
    bool actor_explicit; /* --as or TB_ACTOR was given */
    /* CURVE (services run with keys): our key pair file and the services'
       public key (--server-key: Z85, or a file with a "public" line) */
    const char *key_file;
    const char *server_key_arg;
    tb_client_keys_t keys; /* loaded from the two above by tbctl_security_init */
    const char *lang;      /* --lang: language of concept labels in reasons */
    bool json;
    bool help;
    int timeout_ms;
    /* the command line after the global flags are taken out */
    const char *cmd;
    const char *pos[TBCTL_MAX_POS];
    int npos;
    char opt_name[TBCTL_MAX_OPTS][64];
    const char *opt_value[TBCTL_MAX_OPTS];
    int nopt;
    void *zmq_ctx;
} tbctl_t;

/* tbctl_args.c */
/*  Parses argv into `t` (globals over environment over defaults). Returns 0, or
    -1 after printing a usage error. */
int tbctl_args_parse(tbctl_t *t, int argc, char **argv);
/*  The value of a command option, or NULL when not given. */
const char *tbctl_opt(const tbctl_t *t, const char *name);
/*  Parses option `name` as an integer in [min, max] into *out (left alone when
    the option is absent). Returns 0, or -1 after printing a usage error. */
int tbctl_opt_int(const tbctl_t *t, const char *name, int64_t min, int64_t max,
                  int64_t *out);
/*  Parses a positional integer. Returns 0 or -1 (usage error printed). */
int tbctl_parse_int(const char *what, const char *s, int64_t min, int64_t max,
                    int64_t *out);
/*  Prints "tbctl: usage: ..." and returns TBCTL_EXIT_USAGE. */
int tbctl_usage_error(const char *msg, const char *detail);
void tbctl_print_help(void);

/* tbctl_rpc.c */
const char *tbctl_svc_name(tbctl_svc_t svc);
/*  Checks --key-file / --server-key (both or neither), loads the server public
    key and checks that the key pair file loads. Returns an exit status
    (TBCTL_EXIT_OK, or TBCTL_EXIT_USAGE after a message). */
int tbctl_security_init(tbctl_t *t);
/*  Makes `sock` a CURVE client when a key file is configured (a no-op
    otherwise). Call before zmq_connect. Returns 0 or -1 (message printed). */
int tbctl_socket_secure(const tbctl_t *t, void *sock);
/*  Sends `req` (correlation id and actor filled in here) to `svc` and receives
    its reply into `arena`. Returns TBCTL_EXIT_OK with *reply set, TBCTL_EXIT_API
    when the reply carries an error (printed unless quiet; *reply set), or
    TBCTL_EXIT_UNAVAILABLE when no reply came in time (printed unless quiet). */
int tbctl_call(const tbctl_t *t, tbctl_svc_t svc, Techbridge__ApiRequest *req,
               tb_arena_t *arena, Techbridge__ApiReply **reply, bool quiet);
/*  Prints "tbctl: CODE: message" and each violation on stderr. */
void tbctl_print_error(const Techbridge__Error *error);
/*  Prints the reply as one JSON document on stdout. Returns an exit status. */
int tbctl_print_json_reply(const Techbridge__ApiReply *reply);

/* tbctl_cmd.c: request commands; each returns an exit status. */
int tbctl_cmd_submit(tbctl_t *t);
int tbctl_cmd_get(tbctl_t *t);
int tbctl_cmd_history(tbctl_t *t);
int tbctl_cmd_list(tbctl_t *t);
int tbctl_cmd_transition(tbctl_t *t);
int tbctl_cmd_edit(tbctl_t *t);

/* tbctl_match.c: matches, notifications, health. */
int tbctl_cmd_matches(tbctl_t *t);
int tbctl_cmd_decide(tbctl_t *t);
int tbctl_cmd_notifications(tbctl_t *t);
int tbctl_cmd_ack(tbctl_t *t);
int tbctl_cmd_health(tbctl_t *t);

/* tbctl_thesaurus.c: thesaurus check (offline) and load (tb-matching). */
int tbctl_cmd_thesaurus(tbctl_t *t);

/* tbctl_watch.c */
int tbctl_cmd_watch(tbctl_t *t);

/* tbctl_keygen.c */
/*  tbctl keygen FILE: writes a new key pair (mode 0600, never overwriting) and
    prints its public line. */
int tbctl_cmd_keygen(tbctl_t *t);

/* tbctl_print.c: human-readable output on stdout. */
const char *tbctl_enum_name(const ProtobufCEnumDescriptor *desc, int value);
void tbctl_print_request(const Techbridge__Request *r);
void tbctl_print_request_result(const Techbridge__RequestResult *res);
void tbctl_print_page(const Techbridge__RequestPage *page);
void tbctl_print_history(const Techbridge__History *h);
void tbctl_print_matches(const Techbridge__MatchList *list);
void tbctl_print_match(const Techbridge__Match *m);
void tbctl_print_notification(const Techbridge__Notification *n);
void tbctl_print_ack(const Techbridge__RecipientStats *s);
void tbctl_print_health(const char *name, const char *endpoint,
                        const Techbridge__HealthResult *h);

#endif

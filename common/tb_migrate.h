/*  tb_migrate: the schema as versioned SQL files (deploy/migrations/NNN_name.sql),
    compiled into every binary, applied idempotently under an advisory lock. */
#ifndef TB_MIGRATE_H
#define TB_MIGRATE_H

#include "tb_db.h"

typedef struct {
    int version;      /* NNN */
    const char *name; /* file name */
    const char *sql;  /* the file's text, run as one transaction */
} tb_migration_t;

/*  Generated at build time from deploy/migrations/ (sorted by version). */
extern const tb_migration_t tb_migrations[];
extern const int tb_migrations_count;

/*  Applies the missing migrations in order, each in its own transaction, under
    pg_advisory_lock so that concurrent starters wait instead of racing. Logs one
    line per applied file. Returns 0, or -1 (database down or a file failed). */
int tb_migrate_apply(tb_db_t *db);

/*  Checks that the database's schema is exactly the one this binary knows.
    Returns 0; -1 with a clear log line when it is older (run --migrate) or newer
    (this binary is too old to run on it), or unreadable. */
int tb_migrate_check(tb_db_t *db);

#endif

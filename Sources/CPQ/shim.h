// libpq, PostgreSQL's own C client (Debian libpq-dev). Chosen over a Swift driver because it
// gives peer authentication over the Unix socket, ~/.pgpass, service files, sslmode/TLS and
// every conninfo/URL convention a hospital's database administrator already uses, and it is
// synchronous like GRDB (see docs/deployment.md, "Why libpq").
#ifndef BLASTVIEW_CPQ_SHIM_H
#define BLASTVIEW_CPQ_SHIM_H
#include <libpq-fe.h>

// The diagnostic field codes are macros of postgres_ext.h that Swift sees as plain ints; these
// keep their names at the call sites.
static inline int bv_pg_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int bv_pg_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
static inline int bv_pg_diag_message_detail(void) { return PG_DIAG_MESSAGE_DETAIL; }
static inline int bv_pg_diag_message_hint(void) { return PG_DIAG_MESSAGE_HINT; }
#endif

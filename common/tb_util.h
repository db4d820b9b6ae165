/*  tb_util: time and identifiers. */
#ifndef TB_UTIL_H
#define TB_UTIL_H

#include <stdint.h>

/*  Wall clock, epoch milliseconds (what is stored and sent). */
int64_t tb_now_ms(void);
/*  Monotonic clock in microseconds, for latencies and deadlines. */
int64_t tb_mono_us(void);
/*  A new random UUID (libuuid), lower-case text, into `out` (37 bytes). */
void tb_uuid(char out[37]);

#endif

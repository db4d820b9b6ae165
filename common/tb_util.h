/*  tb_util: time, identifiers, hex digits. */
#ifndef TB_UTIL_H
#define TB_UTIL_H

#include <stdint.h>

/*  Wall clock, epoch milliseconds (what is stored and sent). */
int64_t tb_now_ms(void);
/*  Monotonic clock in microseconds, for latencies and deadlines. */
int64_t tb_mono_us(void);
/*  A new random UUID (libuuid), lower-case text, into `out` (37 bytes). */
void tb_uuid(char out[37]);
/*  The value of hex digit `c` (0-9, a-f, A-F), or -1 for any other character. */
int tb_hex_value(int c);

#endif

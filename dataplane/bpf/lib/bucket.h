/* SPDX-License-Identifier: GPL-2.0 */
/* Token bucket arithmetic, the ONE implementation behind a session
 * profile's policer (lib/profile.h) and the mirror ceiling (lib/ceiling.h).
 * Pure: no map, no helper, no clock; the caller reads the clock and holds
 * the bucket's lock. Also compiled on the host, where its unit test
 * (tests/dataplane/test_bucket.cpp) drives it with chosen clocks, and where
 * userspace computes fill_ns with the same function.
 *
 * Units: tokens and burst are nano-tokens (DP_TOKEN_SCALE per packet,
 * octet or bit), rate is tokens per second, so elapsed ns * rate is
 * nano-tokens. */
#ifndef EVPNMON_LIB_BUCKET_H
#define EVPNMON_LIB_BUCKET_H

#ifndef __cplusplus
#include <linux/types.h>
#endif
#include "evpnmon_shared.h"

#define DP_BUCKET_INLINE static inline __attribute__((always_inline))

/* Time for an empty bucket to fill, rounded up, at least 1 ns. Refill
 * multiplies elapsed (< fill_ns) by rate, so that product stays below
 * burst: no overflow for any burst a dp_u64 holds. rate >= 1. */
DP_BUCKET_INLINE dp_u64 dp_bucket_fill_ns(dp_u64 burst, dp_u64 rate)
{
	dp_u64 f = burst / rate + (burst % rate ? 1 : 0);
	return f ? f : 1;
}

/* Refill for the time since *last_ns, capped at the burst, without ever
 * overflowing (a burst may be close to 2^64 nano-tokens).
 * - last_ns 0: never used, the bucket is full.
 * - now <= last_ns: nothing is added and last_ns stays. CPUs read the clock
 *   before taking the lock, so another CPU may have moved last_ns past this
 *   CPU's `now`: that is not idle time, and must not fill the bucket.
 * - idle for the fill time or longer: full. */
DP_BUCKET_INLINE void dp_bucket_refill(dp_u64 *tokens, dp_u64 *last_ns, dp_u64 rate,
				       dp_u64 burst, dp_u64 fill_ns, dp_u64 now)
{
	if (!*last_ns) {
		*tokens = burst;
		*last_ns = now;
		return;
	}
	if (now <= *last_ns)
		return;
	dp_u64 elapsed = now - *last_ns;
	*last_ns = now;
	if (elapsed >= fill_ns) {
		*tokens = burst;
		return;
	}
	/* elapsed <= fill_ns - 1 with fill_ns = ceil(burst / rate): add < burst */
	dp_u64 add = elapsed * rate;
	if (*tokens >= burst || add >= burst - *tokens)
		*tokens = burst;
	else
		*tokens += add;
}

/* Refill, then take `cost` if there are enough tokens: 1 if taken, 0 if
 * not (the bucket keeps its tokens; a cost larger than the burst never
 * passes). */
DP_BUCKET_INLINE int dp_bucket_take(dp_u64 *tokens, dp_u64 *last_ns, dp_u64 rate,
				    dp_u64 burst, dp_u64 fill_ns, dp_u64 cost,
				    dp_u64 now)
{
	dp_bucket_refill(tokens, last_ns, rate, burst, fill_ns, now);
	if (*tokens < cost)
		return 0;
	*tokens -= cost;
	return 1;
}

/* Two buckets that must both agree (the mirror ceiling's bits and
 * packets): refill each, and take from both only if both hold their cost.
 * A bucket whose rate is 0 is left out (always agrees, never touched).
 * Returns 0 if taken, else the refusals: DP_BUCKET_REFUSED_FIRST and/or
 * DP_BUCKET_REFUSED_SECOND (neither bucket then loses a token). */
#define DP_BUCKET_REFUSED_FIRST 1
#define DP_BUCKET_REFUSED_SECOND 2
DP_BUCKET_INLINE int dp_bucket_take_both(struct dp_bucket *first, dp_u64 first_cost,
					 struct dp_bucket *second, dp_u64 second_cost,
					 dp_u64 now)
{
	int refused = 0;
	if (first->rate) {
		dp_bucket_refill(&first->tokens, &first->last_ns, first->rate, first->burst,
				 first->fill_ns, now);
		if (first->tokens < first_cost)
			refused |= DP_BUCKET_REFUSED_FIRST;
	}
	if (second->rate) {
		dp_bucket_refill(&second->tokens, &second->last_ns, second->rate, second->burst,
				 second->fill_ns, now);
		if (second->tokens < second_cost)
			refused |= DP_BUCKET_REFUSED_SECOND;
	}
	if (refused)
		return refused;
	if (first->rate)
		first->tokens -= first_cost;
	if (second->rate)
		second->tokens -= second_cost;
	return 0;
}

/* What a refusal tells about later: a bucket that held `tokens` at `t0`
 * (after its refill) holds at most tokens + (now - t0) * rate at any later
 * `now`: only the refill adds, takes and the burst cap only lower it, and
 * a refill another CPU stamped after t0 only moves the start later. So a
 * copy whose cost is above that bound is refused by the bucket itself at
 * `now`, whoever took from it meanwhile: 1 if the bound refuses `cost`.
 * Past fill_ns the bucket may be full again and the bound says nothing (0);
 * elapsed < fill_ns keeps elapsed * rate below the burst. */
DP_BUCKET_INLINE int dp_bucket_bound_refuses(dp_u64 tokens, dp_u64 t0, dp_u64 rate,
					     dp_u64 fill_ns, dp_u64 cost, dp_u64 now)
{
	if (!rate || now < t0)
		return 0;
	dp_u64 elapsed = now - t0;
	if (elapsed >= fill_ns)
		return 0;
	return tokens + elapsed * rate < cost;
}

#endif /* EVPNMON_LIB_BUCKET_H */

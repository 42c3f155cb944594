// The token bucket arithmetic of the per-session policer and the mirror
// ceiling (dataplane/bpf/lib/bucket.h), driven with chosen clock values:
// the BPF tests run at rates too low to ever refill, so this is where the
// refill is checked. No real clock, no timing.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "lib/bucket.h"

#include <cstdint>
#include <random>
#include <limits>

namespace {

constexpr std::uint64_t kNs = 1'000'000'000; // 1 s

// A bucket as the ceiling keeps it: tokens are nano-bits, rate bits/s,
// burst given in octets.
struct Bucket {
	dp_u64 tokens = 0, last_ns = 0, rate, burst, fill_ns;

	Bucket(std::uint64_t bps, std::uint64_t burst_octets)
	    : rate(bps), burst(burst_octets * 8 * DP_TOKEN_SCALE),
	      fill_ns(dp_bucket_fill_ns(burst, rate))
	{
	}
	bool take_octets(std::uint64_t octets, std::uint64_t now)
	{
		return take(octets * 8 * DP_TOKEN_SCALE, now) != 0;
	}
	int take(std::uint64_t cost, std::uint64_t now)
	{
		return dp_bucket_take(&tokens, &last_ns, rate, burst, fill_ns, cost, now);
	}
	void refill(std::uint64_t now)
	{
		dp_bucket_refill(&tokens, &last_ns, rate, burst, fill_ns, now);
	}
};

} // namespace

TEST_CASE("bucket: never used (last_ns 0) is full, and the first take starts the clock")
{
	Bucket b(8, 100);
	CHECK(b.take_octets(100, 5 * kNs));
	CHECK(b.tokens == 0);
	CHECK(b.last_ns == 5 * kNs);
	CHECK_FALSE(b.take_octets(1, 5 * kNs));
}

TEST_CASE("bucket: exact refill at 1 bit/s")
{
	// 1 bit/s: one bit (10^9 nano-bits) per second, one nano-bit per ns.
	Bucket b(1, 1000);
	const std::uint64_t t0 = 1000 * kNs;
	REQUIRE(b.take_octets(1000, t0)); // empty now
	b.refill(t0 + 1);
	CHECK(b.tokens == 1);
	b.refill(t0 + 7 * kNs + 1);
	CHECK(b.tokens == 7 * DP_TOKEN_SCALE + 1);
	CHECK(b.last_ns == t0 + 7 * kNs + 1);
	// One octet needs 8 s: at 7 s it is refused, at 8 s it passes.
	CHECK_FALSE(b.take_octets(1, t0 + 7 * kNs + 1));
	CHECK(b.take_octets(1, t0 + 8 * kNs));
	CHECK(b.tokens == 0);
}

TEST_CASE("bucket: exact refill at 400 Gbit/s")
{
	const std::uint64_t bps = 400'000'000'000;
	Bucket b(bps, 128 * 1024);
	const std::uint64_t t0 = 77 * kNs;
	REQUIRE(b.take_octets(128 * 1024, t0));
	REQUIRE(b.tokens == 0);
	// 1 ns = 400 bits = 50 octets.
	b.refill(t0 + 1);
	CHECK(b.tokens == bps);
	CHECK(b.take_octets(50, t0 + 1));
	CHECK(b.tokens == 0);
	// 1500 octets take 30 ns.
	CHECK_FALSE(b.take_octets(1500, t0 + 30));
	CHECK(b.tokens == 29 * bps);
	CHECK(b.take_octets(1500, t0 + 31));
	CHECK(b.tokens == 0);
}

TEST_CASE("bucket: the refill stops at the burst")
{
	Bucket b(8'000, 1000); // 1000 octets/s, 1000 octets deep: fill time 1 s
	const std::uint64_t t0 = 10 * kNs;
	REQUIRE(b.take_octets(300, t0));
	// 0.5 s adds 500 octets: 700 + 500 is over the burst, held at 1000.
	b.refill(t0 + kNs / 2);
	CHECK(b.tokens == b.burst);
	CHECK(b.take_octets(1000, t0 + kNs / 2));
	CHECK_FALSE(b.take_octets(1, t0 + kNs / 2));
}

TEST_CASE("bucket: idle longer than the fill time is full")
{
	Bucket b(8'000, 1000);
	const std::uint64_t t0 = 10 * kNs;
	REQUIRE(b.take_octets(1000, t0));
	b.refill(t0 + b.fill_ns);
	CHECK(b.tokens == b.burst);
	REQUIRE(b.take_octets(1000, t0 + b.fill_ns));
	b.refill(t0 + b.fill_ns + 3600 * kNs);
	CHECK(b.tokens == b.burst);
	// Idle for longer than elapsed * rate fits 64 bits.
	REQUIRE(b.take_octets(1000, t0 + b.fill_ns + 3600 * kNs));
	b.refill(std::numeric_limits<std::uint64_t>::max());
	CHECK(b.tokens == b.burst);
}

TEST_CASE("bucket: a clock behind last_ns adds nothing and keeps last_ns")
{
	// Another CPU read a later clock and took the lock first: this CPU's
	// `now` is before last_ns. That is not an idle bucket.
	Bucket b(8, 3000);
	const std::uint64_t t0 = 50 * kNs;
	REQUIRE(b.take_octets(3000, t0));
	REQUIRE(b.tokens == 0);
	CHECK_FALSE(b.take_octets(1000, t0 - 1));
	CHECK(b.tokens == 0);
	CHECK(b.last_ns == t0);
	CHECK_FALSE(b.take_octets(1000, t0 - 10 * kNs));
	CHECK(b.tokens == 0);
	CHECK(b.last_ns == t0);
	// Equal times add nothing either.
	CHECK_FALSE(b.take_octets(1, t0));
	CHECK(b.last_ns == t0);
	// The time that did pass is still credited from last_ns.
	b.refill(t0 + 2 * kNs);
	CHECK(b.tokens == 16 * DP_TOKEN_SCALE); // 2 s at 8 bit/s
	CHECK(b.last_ns == t0 + 2 * kNs);
}

TEST_CASE("bucket: a burst near the maximum does not overflow")
{
	// The deepest ceiling: 2^31 octets = 2^34 * 10^9 nano-bits, close to
	// 2^64. Tokens + elapsed * rate would wrap.
	const std::uint64_t octets = std::uint64_t{1} << 31;
	for (const std::uint64_t bps : {std::uint64_t{1}, std::uint64_t{1'000'000'000},
					std::uint64_t{400'000'000'000}}) {
		CAPTURE(bps);
		Bucket b(bps, octets);
		REQUIRE(b.burst == octets * 8 * DP_TOKEN_SCALE);
		REQUIRE((b.fill_ns - 1) * b.rate < b.burst); // the refill's bound
		const std::uint64_t t0 = kNs;
		REQUIRE(b.take(1, t0));
		REQUIRE(b.tokens == b.burst - 1);
		// Nearly the fill time later: almost a whole burst to add to an
		// almost full bucket.
		b.refill(t0 + b.fill_ns - 1);
		CHECK(b.tokens == b.burst);
		CHECK(b.take(b.burst, t0 + b.fill_ns - 1));
		CHECK(b.tokens == 0);
	}
	// The policer's deepest: 2^32 - 1 octets (or packets) at 1 per second.
	dp_u64 tokens = 0, last = 0;
	const dp_u64 burst = 0xffffffffull * DP_TOKEN_SCALE;
	const dp_u64 fill = dp_bucket_fill_ns(burst, 1);
	REQUIRE(dp_bucket_take(&tokens, &last, 1, burst, fill, 1, kNs));
	dp_bucket_refill(&tokens, &last, 1, burst, fill, kNs + fill - 1);
	CHECK(tokens == burst);
}

TEST_CASE("bucket: a cost larger than the burst never passes and takes nothing")
{
	Bucket b(8'000, 1000);
	CHECK_FALSE(b.take_octets(1001, kNs));
	CHECK(b.tokens == b.burst);
	CHECK_FALSE(b.take_octets(1001, kNs + 3600 * kNs));
	CHECK(b.tokens == b.burst);
	CHECK(b.take_octets(1000, kNs + 3600 * kNs));
}

TEST_CASE("bucket: fill time rounds up and is at least 1 ns")
{
	CHECK(dp_bucket_fill_ns(10, 3) == 4);
	CHECK(dp_bucket_fill_ns(9, 3) == 3);
	CHECK(dp_bucket_fill_ns(1, 1000) == 1);
	CHECK(dp_bucket_fill_ns(0, 1000) == 1);
}

namespace {

// The mirror ceiling's two buckets as the BPF program keeps them.
dp_bucket make_bucket(std::uint64_t rate, std::uint64_t burst_tokens)
{
	dp_bucket b{};
	b.rate = rate;
	b.burst = burst_tokens * DP_TOKEN_SCALE;
	b.fill_ns = rate ? dp_bucket_fill_ns(b.burst, rate) : 0;
	return b;
}

} // namespace

TEST_CASE("bucket pair: taken from both, or from neither")
{
	// bits: 3 copies of 1000 octets; packets: 5 copies; no refill (1/s).
	dp_bucket bits = make_bucket(1, 3000 * 8), pkts = make_bucket(1, 5);
	const std::uint64_t copy = 1000 * 8 * DP_TOKEN_SCALE, one = DP_TOKEN_SCALE, t = kNs;
	for (int i = 0; i < 3; ++i)
		REQUIRE(dp_bucket_take_both(&bits, copy, &pkts, one, t) == 0);
	CHECK(bits.tokens == 0);
	CHECK(pkts.tokens == 2 * one);
	// The bits refuse: the packets keep their tokens.
	CHECK(dp_bucket_take_both(&bits, copy, &pkts, one, t) == DP_BUCKET_REFUSED_FIRST);
	CHECK(pkts.tokens == 2 * one);
	// Small copies the bits would pass: the packets refuse after 2, and
	// the bits keep theirs.
	bits = make_bucket(1, 3000 * 8);
	CHECK(dp_bucket_take_both(&bits, 8 * DP_TOKEN_SCALE, &pkts, one, t) == 0);
	CHECK(dp_bucket_take_both(&bits, 8 * DP_TOKEN_SCALE, &pkts, one, t) == 0);
	const auto left = bits.tokens;
	CHECK(dp_bucket_take_both(&bits, 8 * DP_TOKEN_SCALE, &pkts, one, t) ==
	      DP_BUCKET_REFUSED_SECOND);
	CHECK(bits.tokens == left);
	// Both empty: both refusals are reported.
	CHECK(dp_bucket_take_both(&bits, copy * 4, &pkts, one, t) ==
	      (DP_BUCKET_REFUSED_FIRST | DP_BUCKET_REFUSED_SECOND));
}

TEST_CASE("bucket pair: a bucket with rate 0 is left out, never touched")
{
	dp_bucket bits = make_bucket(0, 0), pkts = make_bucket(1, 2);
	const std::uint64_t one = DP_TOKEN_SCALE, t = kNs;
	CHECK(dp_bucket_take_both(&bits, 1ull << 60, &pkts, one, t) == 0);
	CHECK(dp_bucket_take_both(&bits, 1ull << 60, &pkts, one, t) == 0);
	CHECK(dp_bucket_take_both(&bits, 1, &pkts, one, t) == DP_BUCKET_REFUSED_SECOND);
	CHECK(bits.tokens == 0);
	CHECK(bits.last_ns == 0);
	// Both left out: everything passes.
	pkts = make_bucket(0, 0);
	CHECK(dp_bucket_take_both(&bits, 1ull << 60, &pkts, 1ull << 60, t) == 0);
}

TEST_CASE("bucket pair: the packet bucket refills at its own rate")
{
	// 1000 copies/s, burst 2: empty after 2, one more token each ms.
	dp_bucket bits = make_bucket(0, 0), pkts = make_bucket(1000, 2);
	const std::uint64_t one = DP_TOKEN_SCALE, t = 10 * kNs, ms = 1'000'000;
	REQUIRE(dp_bucket_take_both(&bits, 0, &pkts, one, t) == 0);
	REQUIRE(dp_bucket_take_both(&bits, 0, &pkts, one, t) == 0);
	CHECK(dp_bucket_take_both(&bits, 0, &pkts, one, t + ms - 1) == DP_BUCKET_REFUSED_SECOND);
	CHECK(dp_bucket_take_both(&bits, 0, &pkts, one, t + ms) == 0);
	CHECK(dp_bucket_take_both(&bits, 0, &pkts, one, t + ms) == DP_BUCKET_REFUSED_SECOND);
}

TEST_CASE("bucket bound: refuses exactly below tokens + elapsed * rate, says nothing past the fill time")
{
	// 1000 units/s: one more nano-token... per ns times rate; fill 10 ms.
	const dp_u64 rate = 1000, fill = 10'000'000, t0 = 5 * kNs, tokens = 300'000'000;
	// at t0: 0.3 units; cost 1 unit (1e9 nano-units)
	const dp_u64 cost = DP_TOKEN_SCALE;
	CHECK(dp_bucket_bound_refuses(tokens, t0, rate, fill, cost, t0));
	// the bound reaches the cost after (cost - tokens) / rate ns = 700,000 ns
	CHECK(dp_bucket_bound_refuses(tokens, t0, rate, fill, cost, t0 + 699'999));
	CHECK_FALSE(dp_bucket_bound_refuses(tokens, t0, rate, fill, cost, t0 + 700'000));
	// a huge cost: still nothing said past the fill time (may be full)
	CHECK(dp_bucket_bound_refuses(tokens, t0, rate, fill, ~0ull >> 2, t0 + fill - 1));
	CHECK_FALSE(dp_bucket_bound_refuses(tokens, t0, rate, fill, ~0ull >> 2, t0 + fill));
	// a clock before t0, a bucket left out: nothing said
	CHECK_FALSE(dp_bucket_bound_refuses(tokens, t0, rate, fill, cost, t0 - 1));
	CHECK_FALSE(dp_bucket_bound_refuses(0, t0, 0, fill, cost, t0));
}

TEST_CASE("bucket bound: never refuses what the shared bucket would pass at the same clock (two CPUs)")
{
	// Two CPUs take from one bucket pair as the ceiling does: each reads
	// the clock before the lock, so stamps may reach the bucket out of
	// order (up to 5 us here). After each refusal a CPU keeps the tokens
	// it saw (its hint). Whenever its hint refuses a later copy, the
	// bucket itself, asked at that clock, must refuse it too, unless the
	// bucket already holds a later stamp of the other CPU: then the bucket
	// answers for that later time (the lock path has the same property),
	// which the check counts apart.
	std::mt19937_64 rng(12345);
	dp_bucket bits = make_bucket(10'000'000, 16'000 * 8), pkts = make_bucket(250, 4);
	struct Hint {
		bool set = false;
		dp_u64 t0 = 0, bits = 0, pkts = 0;
	} hint[2];
	dp_u64 clock = kNs, last_read[2] = {0, 0};
	int checked = 0, ahead = 0, bucket_refusals = 0, passes = 0;
	for (int i = 0; i < 200'000; ++i) {
		const int cpu = static_cast<int>(rng() % 2);
		clock += rng() % 10'000;
		// read a little before the lock, never before this CPU's last read
		dp_u64 now = clock - rng() % 5'000;
		if (now < last_read[cpu])
			now = last_read[cpu];
		last_read[cpu] = now;
		const dp_u64 octets = rng() % 2 ? 66 : 1000 + rng() % 64'000;
		const dp_u64 cost = octets * 8 * DP_TOKEN_SCALE;
		const Hint &h = hint[cpu];
		const bool by_hint =
			h.set && (dp_bucket_bound_refuses(h.bits, h.t0, bits.rate, bits.fill_ns, cost, now) ||
				  dp_bucket_bound_refuses(h.pkts, h.t0, pkts.rate, pkts.fill_ns,
							  DP_TOKEN_SCALE, now));
		if (by_hint) {
			if (bits.last_ns > now || pkts.last_ns > now) {
				++ahead;
				continue;
			}
			// what the bucket would say at this clock, on a copy of it
			dp_bucket b = bits, p = pkts;
			CHECK(dp_bucket_take_both(&b, cost, &p, DP_TOKEN_SCALE, now) != 0);
			++checked;
			continue;
		}
		if (dp_bucket_take_both(&bits, cost, &pkts, DP_TOKEN_SCALE, now)) {
			hint[cpu] = {true, now, bits.tokens, pkts.tokens};
			++bucket_refusals;
		} else {
			hint[cpu].set = false;
			++passes;
		}
	}
	// every outcome occurred, and the hint decided most copies
	CHECK(passes > 100);
	CHECK(bucket_refusals > 100);
	CHECK(checked > bucket_refusals);
	MESSAGE("passes " << passes << ", bucket refusals " << bucket_refusals
			  << ", hint refusals checked " << checked << ", not comparable " << ahead);
}

// Memory backend replay benchmark: simulated packets per second with 1 and
// 10,000 installed entries (each packet = 4 hash lookups: source MAC,
// destination MAC, source IP, destination IP), for a packet that matches no
// entry and one that is mirrored. Not a timed assertion: prints numbers.
// `--capacity`: instead, the backend's memory per entry at 0, 10k, 100k and
// 200k entries, and the install time of 10k and 100k sessions (capacity.hpp;
// bench_capacity does the same for the linux backend too).
#include "capacity.hpp"

#include <evpnmon/dataplane/memory.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

using namespace evpnmon::dp;

namespace {

std::vector<std::uint8_t> frame(const Mac &src, const Mac &dst)
{
	std::vector<std::uint8_t> f(dst.begin(), dst.end());
	f.insert(f.end(), src.begin(), src.end());
	f.insert(f.end(), {0x08, 0x00, 0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17, 0, 0,
			   10, 1, 0, 1, 10, 1, 0, 2});
	f.resize(64, 0);
	return f;
}

Mac mac_of(std::uint32_t i)
{
	return Mac{0x02, 0, static_cast<std::uint8_t>(i >> 24),
		   static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
		   static_cast<std::uint8_t>(i)};
}

double rate(MemoryDataplane &dp, const std::vector<std::uint8_t> &f)
{
	using clock = std::chrono::steady_clock;
	std::size_t n = 0, outs = 0;
	auto t0 = clock::now();
	auto deadline = t0 + std::chrono::milliseconds(700);
	while (clock::now() < deadline) {
		for (int i = 0; i < 1000; ++i)
			outs += dp.simulate(f, 11).size();
		n += 1000;
	}
	double s = std::chrono::duration<double>(clock::now() - t0).count();
	if (outs == 42)
		std::puts(""); // keep the result observable
	return static_cast<double>(n) / s;
}

} // namespace

int capacity()
{
	using namespace evpnmon::bench;
	const Factory make = [] { return std::make_unique<MemoryDataplane>(); };
	const KernelBytes none = [] { return std::size_t{0}; };
	std::printf("Memory backend, default capacity (%u entries).\n\n",
		    Config{}.max_entries);
	per_entry_header();
	if (!per_entry_rows("memory", make, none))
		return 1;
	std::printf("\n");
	sessions_header();
	return sessions_rows("memory", make, none, 3) ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && std::strcmp(argv[1], "--capacity") == 0)
		return capacity();
	std::printf("| entries | packet | simulated packets/s | hash lookups/s |\n");
	std::printf("|---:|---|---:|---:|\n");
	for (std::uint32_t entries : {1u, 10000u}) {
		MemoryDataplane dp;
		dp.add_port(11, "h1", 100);
		dp.add_port(14, "srv", 100);
		for (std::uint32_t i = 0; i < entries; ++i) {
			Entry e;
			e.key.kind = i % 2 ? EntryKind::MirrorDest : EntryKind::MirrorSource;
			e.key.vni = 100;
			e.key.host.mac = mac_of(i);
			e.key.host_id = 7;
			e.action.ifindex = 14;
			if (dp.install(e))
				return 1;
		}
		auto miss = frame(mac_of(0xfffff0), mac_of(0xfffff1));
		auto hit = frame(mac_of(0), mac_of(0xfffff1)); // entry 0: src match
		double r_miss = rate(dp, miss), r_hit = rate(dp, hit);
		std::printf("| %u | no match | %.2f M | %.2f M |\n", entries, r_miss / 1e6,
			    4 * r_miss / 1e6);
		std::printf("| %u | mirrored (1 copy) | %.2f M | %.2f M |\n", entries,
			    r_hit / 1e6, 4 * r_hit / 1e6);
	}
	return 0;
}

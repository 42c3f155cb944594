// The workload and the probes of the capacity benchmarks (bench_memory
// --capacity, bench_capacity): the entries 1 and 2 of N monitor sessions as
// one VTEP of their VNI installs them (a VTEP that is not the server's: the
// copies are VXLAN-GBP to the server's VTEP), with session ids as the feed
// gives them. Not a test: prints numbers.
#pragma once

#include <evpnmon/dataplane/dataplane.hpp>

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace evpnmon::bench {

inline dp::Mac session_mac(std::uint32_t i)
{
	return dp::Mac{0x02, 0x10, static_cast<std::uint8_t>(i >> 24),
		       static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
		       static_cast<std::uint8_t>(i)};
}

// Session i: host 02:10:<i> in VNI 100, watched by a server behind one of
// 31 other VTEPs, HOST ID 1 + i mod 65535.
inline std::array<dp::Entry, 2> session_entries(std::uint32_t i)
{
	const auto vtep = static_cast<std::uint8_t>(1 + i % 31);
	const auto hid = static_cast<std::uint16_t>(1 + i % 65535);
	dp::Entry e;
	e.key.vni = 100;
	e.key.host.mac = session_mac(i);
	e.key.host_id = hid;
	e.key.session = "10.0." + std::to_string(vtep) + ".1/100/" + std::to_string(hid) +
			"/" + dp::to_string(*e.key.host.mac) + "/-";
	e.action.kind = dp::Action::Kind::Vxlan;
	e.action.remote_vtep = {10, 0, vtep, 1};
	e.action.vni = 100;
	e.action.host_id = hid;
	std::array<dp::Entry, 2> out{e, e};
	out[0].key.kind = dp::EntryKind::MirrorSource;
	out[1].key.kind = dp::EntryKind::MirrorDest;
	return out;
}

// Sessions [from, to): false (and a message) if an install fails.
inline bool install_sessions(dp::Dataplane &dp, std::uint32_t from, std::uint32_t to)
{
	for (std::uint32_t i = from; i < to; ++i)
		for (const auto &e : session_entries(i))
			if (auto ec = dp.install(e)) {
				std::fprintf(stderr, "install of session %u: %s\n", i,
					     ec.message().c_str());
				return false;
			}
	// What the backend batched (the linux backend's entry descriptions)
	// is written inside the measured window.
	if (auto ec = dp.flush()) {
		std::fprintf(stderr, "flush: %s\n", ec.message().c_str());
		return false;
	}
	return true;
}

// Bytes the process has allocated from the heap (glibc, all arenas).
inline std::size_t heap_bytes()
{
	const struct mallinfo2 m = mallinfo2();
	return m.uordblks + m.hblkhd;
}

// CPU time (user + system) of this process, in seconds.
inline double cpu_seconds()
{
	rusage u{};
	::getrusage(RUSAGE_SELF, &u);
	return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Stopwatch {
	std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
	double cpu0 = cpu_seconds();
	double wall() const
	{
		return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
		    .count();
	}
	double cpu() const { return cpu_seconds() - cpu0; }
};

using Factory = std::function<std::unique_ptr<dp::Dataplane>()>;
// Kernel memory of the backend's BPF maps (0 for the memory backend).
using KernelBytes = std::function<std::size_t()>;

inline double mib(double b) { return b / (1024.0 * 1024.0); }

// One dataplane filled with 0, 10k, 100k, 200k entries (the entries 1 and 2
// of 0, 5k, 50k, 100k sessions): memory at each step, and per entry beyond
// the empty dataplane. Userspace: heap growth since before the dataplane
// was made. Rows of a markdown table (header: per_entry_header()).
inline void per_entry_header()
{
	std::printf("| backend | entries | kernel maps (MiB) | userspace heap (MiB) | "
		    "kernel B/entry | userspace B/entry | install CPU s (cumulative) |\n");
	std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
}

inline bool per_entry_rows(const char *backend, const Factory &make, const KernelBytes &kernel)
{
	const std::size_t h_before = heap_bytes();
	auto dp = make();
	const std::size_t h0 = heap_bytes(), k0 = kernel();
	Stopwatch sw;
	std::uint32_t done = 0;
	for (std::uint32_t sessions : {0u, 5000u, 50000u, 100000u}) {
		if (!install_sessions(*dp, done, sessions))
			return false;
		done = sessions;
		const double cpu = sw.cpu();
		const std::size_t h = heap_bytes(), k = kernel();
		const double n = 2.0 * sessions;
		std::printf("| %s | %u | %.1f | %.1f | %s | %s | %.2f |\n", backend, 2 * sessions,
			    mib(static_cast<double>(k)), mib(static_cast<double>(h - h_before)),
			    n ? std::to_string(static_cast<long>((static_cast<double>(k) -
								   static_cast<double>(k0)) / n))
				    .c_str()
			      : "-",
			    n ? std::to_string(static_cast<long>((static_cast<double>(h) -
								   static_cast<double>(h0)) / n))
				    .c_str()
			      : "-",
			    cpu);
	}
	return true;
}

// 10k and 100k sessions, each into a fresh dataplane, interleaved `reps`
// times: install time (the fastest repetition) and memory per session,
// with the per-session ratio of 100k against 10k of this run.
inline void sessions_header()
{
	std::printf("| backend | sessions | entries | install wall s | install CPU s | "
		    "CPU µs/session | memory/session (B, kernel + heap) | "
		    "per-session CPU vs 10k | per-session memory vs 10k |\n");
	std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
}

inline bool sessions_rows(const char *backend, const Factory &make, const KernelBytes &kernel,
			  int reps)
{
	const std::uint32_t sizes[] = {10000, 100000};
	double wall[2] = {1e9, 1e9}, cpu[2] = {1e9, 1e9}, mem[2] = {0, 0};
	for (int r = 0; r < reps; ++r)
		for (int s = 0; s < 2; ++s) {
			auto dp = make();
			const double h0 = static_cast<double>(heap_bytes());
			const double k0 = static_cast<double>(kernel());
			Stopwatch sw;
			if (!install_sessions(*dp, 0, sizes[s]))
				return false;
			const double c = sw.cpu(), w = sw.wall();
			const double m = static_cast<double>(heap_bytes()) - h0 +
					 static_cast<double>(kernel()) - k0;
			if (c < cpu[s]) {
				cpu[s] = c;
				wall[s] = w;
			}
			mem[s] = m / sizes[s];
		}
	for (int s = 0; s < 2; ++s) {
		const double per = cpu[s] / sizes[s], per10k = cpu[0] / sizes[0];
		std::printf("| %s | %u | %u | %.3f | %.3f | %.2f | %.0f | %.2f | %.2f |\n", backend,
			    sizes[s], 2 * sizes[s], wall[s], cpu[s], per * 1e6, mem[s],
			    per / per10k, mem[s] / mem[0]);
	}
	return true;
}

} // namespace evpnmon::bench

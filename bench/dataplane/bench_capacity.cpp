// Capacity of the dataplane on one VTEP (root): the linux backend (TC eBPF,
// in a private network namespace, pins in a per-process bpffs directory)
// and the memory backend, in the same invocation.
//  1. memory per entry at 0, 10k, 100k and 200k entries: kernel memory of
//     the BPF maps (the `memlock` of /proc/self/fdinfo, what the kernel
//     charges for each map; per map at 0 and 200k entries) and the
//     userspace heap (mallinfo2);
//  2. 100k sessions (entries 1 and 2 each: 200k entries) against 10k, each
//     into a fresh dataplane: install time and memory per session.
// Not a test: prints markdown tables. Usage: bench_capacity [REPS]
#include "capacity.hpp"

#include <evpnmon/dataplane/dataplane.hpp>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace evpnmon;
using namespace evpnmon::bench;

namespace {

const std::string g_pin = "/sys/fs/bpf/evpnmon-bench-cap-" + std::to_string(::getpid());

bool sh(const std::string &cmd)
{
	if (std::system(cmd.c_str()) == 0)
		return true;
	std::fprintf(stderr, "command failed: %s\n", cmd.c_str());
	return false;
}

// A VTEP of VNI 100: bridge, one host port, the fabric VXLAN device.
bool build_vtep()
{
	return sh("ip link set lo up") && sh("ip link add br100 type bridge") &&
	       sh("ip link add h1 type veth peer name h1p") &&
	       sh("ip link set h1 master br100 up && ip link set h1p up") &&
	       sh("ip link add vxlan100 type vxlan id 100 dstport 4789 nolearning && "
		  "ip link set vxlan100 master br100 up") &&
	       sh("ip link set br100 up");
}

dp::Config vtep_config()
{
	dp::Config c;
	c.bridges = {{"br100", "vxlan100", 100}};
	c.local_vtep = {10, 9, 9, 1};
	c.pin_dir = g_pin;
	return c;
}

// name -> memlock of every BPF map this process holds (one per map id).
std::map<std::string, std::size_t> bpf_maps()
{
	std::map<std::string, std::size_t> out;
	std::set<unsigned> seen;
	DIR *d = ::opendir("/proc/self/fdinfo");
	if (!d)
		return out;
	while (dirent *de = ::readdir(d)) {
		if (de->d_name[0] == '.')
			continue;
		std::ifstream f(std::string("/proc/self/fdinfo/") + de->d_name);
		std::string line;
		long id = -1;
		std::size_t memlock = 0;
		while (std::getline(f, line)) {
			std::istringstream in(line);
			std::string k;
			in >> k;
			if (k == "map_id:")
				in >> id;
			else if (k == "memlock:")
				in >> memlock;
		}
		if (id < 0 || !seen.insert(static_cast<unsigned>(id)).second)
			continue;
		bpf_map_info info{};
		std::uint32_t len = sizeof info;
		std::string name = "map" + std::to_string(id);
		if (bpf_obj_get_info_by_fd(std::atoi(de->d_name), &info, &len) == 0)
			name = info.name;
		out[name] += memlock;
	}
	::closedir(d);
	return out;
}

std::size_t kernel_bytes()
{
	std::size_t n = 0;
	for (const auto &[_, b] : bpf_maps())
		n += b;
	return n;
}

// The entries of sessions [0, n) as install_sessions() makes them, with the
// copies' VTEP moved by `shift` among the 31 (a server move: every entry's
// action replaced).
bool apply_sessions(dp::Dataplane &dp, std::uint32_t n, std::uint32_t shift, bool batch)
{
	if (batch)
		dp.begin_batch();
	for (std::uint32_t i = 0; i < n; ++i)
		for (auto e : session_entries(i)) {
			e.action.remote_vtep[2] = static_cast<std::uint8_t>(
			    1 + (e.action.remote_vtep[2] - 1 + shift) % 31);
			if (auto ec = dp.install(e)) {
				std::fprintf(stderr, "install of session %u: %s\n", i,
					     ec.message().c_str());
				return false;
			}
		}
	return !dp.flush();
}

bool remove_sessions(dp::Dataplane &dp, std::uint32_t n, bool batch)
{
	if (batch)
		dp.begin_batch();
	for (std::uint32_t i = 0; i < n; ++i)
		for (const auto &e : session_entries(i))
			if (dp.remove(e.key))
				return false;
	return !dp.flush();
}

// Installing, moving (every action replaced) and removing the entries of N
// sessions, each change reaching the kernel on its own (no batch: dpctl,
// or the consumer before batches) against one batch (begin_batch() ...
// flush(): the consumer's pass). One dataplane per N, the two modes
// alternating within each round; CPU of this process per entry, median of
// the rounds.
bool batch_rows(const Factory &make, int reps)
{
	std::printf("| sessions (entries) | change | one by one: CPU µs/entry | one batch: "
		    "CPU µs/entry | batch / one by one |\n|---|---|---:|---:|---:|\n");
	for (std::uint32_t n : {10000u, 100000u}) {
		auto dp = make();
		std::map<std::pair<int, bool>, std::vector<double>> cpu; // (change, batch)
		for (int r = 0; r < reps; ++r)
			for (bool batch : {r % 2 == 0, r % 2 != 0}) {
				Stopwatch sw;
				if (!apply_sessions(*dp, n, 0, batch))
					return false;
				cpu[{0, batch}].push_back(sw.cpu());
				sw = Stopwatch{};
				if (!apply_sessions(*dp, n, 1, batch))
					return false;
				cpu[{1, batch}].push_back(sw.cpu());
				sw = Stopwatch{};
				if (!remove_sessions(*dp, n, batch))
					return false;
				cpu[{2, batch}].push_back(sw.cpu());
			}
		auto median = [](std::vector<double> v) {
			std::sort(v.begin(), v.end());
			return v[v.size() / 2];
		};
		const char *names[] = {"install", "move (every action replaced)", "remove"};
		for (int c = 0; c < 3; ++c) {
			const double one = median(cpu[{c, false}]) * 1e6 / (2.0 * n);
			const double bat = median(cpu[{c, true}]) * 1e6 / (2.0 * n);
			std::printf("| %u (%u) | %s | %.2f | %.2f | %.2f |\n", n, 2 * n, names[c],
				    one, bat, bat / one);
		}
	}
	return true;
}

} // namespace

int main(int argc, char **argv)
{
	const int reps = argc > 1 ? std::atoi(argv[1]) : 3;
	if (::geteuid() != 0) {
		std::fprintf(stderr, "bench_capacity: needs root (netns, BPF)\n");
		return 1;
	}
	if (::unshare(CLONE_NEWNET) != 0) {
		std::perror("unshare(CLONE_NEWNET)");
		return 1;
	}
	if (!build_vtep())
		return 1;
	const Factory linux_dp = [] { return dp::make_dataplane("linux", vtep_config()); };
	const Factory memory_dp = [] { return dp::make_dataplane("memory", vtep_config()); };
	const KernelBytes none = [] { return std::size_t{0}; };
	const dp::Config dflt;
	std::printf("Default capacity: %u entries; %d possible CPUs (per-CPU maps).\n\n",
		    dflt.max_entries, libbpf_num_possible_cpus());

	std::printf("### Memory per entry\n\n");
	per_entry_header();
	if (!per_entry_rows("linux", linux_dp, kernel_bytes) ||
	    !per_entry_rows("memory", memory_dp, none))
		return 1;

	// Which map costs what, empty and with 200k entries.
	{
		auto dp = linux_dp();
		const auto empty = bpf_maps();
		if (!install_sessions(*dp, 0, 100000))
			return 1;
		const auto full = bpf_maps();
		std::printf("\n### Kernel memory per BPF map (linux backend)\n\n");
		std::printf("| map | 0 entries (KiB) | 200,000 entries (KiB) |\n|---|---:|---:|\n");
		for (const auto &[name, b] : full) {
			auto e = empty.find(name);
			std::printf("| `%s` | %.0f | %.0f |\n", name.c_str(),
				    e == empty.end() ? 0.0 : static_cast<double>(e->second) / 1024,
				    static_cast<double>(b) / 1024);
		}
	}

	std::printf("\n### Changes one by one against one batch (linux backend, "
		    "median of %d rounds)\n\n", reps);
	if (!batch_rows(linux_dp, reps))
		return 1;

	std::printf("\n### 10k and 100k sessions, each into a fresh dataplane "
		    "(fastest of %d)\n\n", reps);
	sessions_header();
	if (!sessions_rows("linux", linux_dp, kernel_bytes, reps) ||
	    !sessions_rows("memory", memory_dp, none, reps))
		return 1;
	return 0;
}

// Shared by the dataplane tests that send real traffic between hosts, each
// in a network namespace of its own (test_truncate, test_erspan_stream):
// the namespace as a parked child process (not named, never in
// `ip netns list`, gone with the process), the bridge, a host in such a
// namespace behind a veth port, and a TCP stream between two hosts.
#pragma once

#include "private_netns.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>

namespace evpnmon::dp::test {

// A child process parked in a network namespace of its own.
struct NetnsChild {
	pid_t pid = -1;
	NetnsChild()
	{
		int p[2];
		if (::pipe(p) != 0)
			throw std::runtime_error("pipe");
		pid = ::fork();
		if (pid == 0) {
			::close(p[0]);
			if (::unshare(CLONE_NEWNET) != 0)
				::_exit(1);
			char x = 1;
			(void)!::write(p[1], &x, 1);
			::pause();
			::_exit(0);
		}
		::close(p[1]);
		char x = 0;
		if (::read(p[0], &x, 1) != 1)
			throw std::runtime_error("netns child");
		::close(p[0]);
	}
	~NetnsChild()
	{
		if (pid > 0) {
			::kill(pid, SIGKILL);
			::waitpid(pid, nullptr, 0);
		}
	}
	NetnsChild(const NetnsChild &) = delete;
	NetnsChild &operator=(const NetnsChild &) = delete;
	std::string in() const { return "nsenter -t " + std::to_string(pid) + " -n "; }
};

// The switch of these tests, in the test's own (private) namespace: IPv6
// off, br100 with vxlan100 (VNI 100), and per name n in `ports` a veth n,
// a port of br100, whose peer np is left down.
inline void build_bridge(std::initializer_list<const char *> ports)
{
	sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1");
	sh("ip link set lo up && ip link add br100 type bridge");
	for (auto p : ports) {
		const std::string n = p;
		sh("ip link add " + n + " type veth peer name " + n + "p");
		sh("ip link set " + n + " master br100 up");
	}
	sh("ip link add vxlan100 type vxlan id 100 dstport 4789 nolearning && "
	   "ip link set vxlan100 master br100 up && ip link set br100 up");
}

// Moves `dev` (the veth peer of a bridge port) into `ns` with MAC `mac`,
// and brings it up there with lo, v4/24 and, if given, v6/64 (no DAD;
// without it, IPv6 off).
inline void add_host(const NetnsChild &ns, const std::string &dev, const std::string &mac,
		     const std::string &v4, const std::string &v6 = "")
{
	sh("ip link set " + dev + " address " + mac + " netns " + std::to_string(ns.pid));
	const std::string in = ns.in();
	// Without v6 the host has IPv6 off: no router solicitation or MLD
	// report at a random moment after the link comes up.
	if (v6.empty())
		sh(in + "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
			"net.ipv6.conf.default.disable_ipv6=1");
	else
		sh(in + "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
	sh(in + "ip link set lo up");
	sh(in + "ip addr add " + v4 + "/24 dev " + dev);
	if (!v6.empty())
		sh(in + "ip addr add " + v6 + "/64 dev " + dev + " nodad");
	sh(in + "ip link set " + dev + " up");
}

// Frames the kernel dropped because a CPU's input backlog was full
// (netdev_max_backlog), summed over CPUs: /proc/net/softnet_stat, second
// column. Host-wide, not per namespace. A veth hands every frame it sends,
// originals and copies alike, to that backlog; a drop there says the
// machine fell behind, not that a frame was refused.
inline std::uint64_t backlog_drops()
{
	std::ifstream in("/proc/net/softnet_stat");
	std::uint64_t sum = 0;
	for (std::string line; std::getline(in, line);) {
		std::istringstream f(line);
		std::string processed, dropped;
		if (f >> processed >> dropped)
			sum += std::stoull(dropped, nullptr, 16);
	}
	return sum;
}

// Packets the kernel discarded from the queue of a neighbour being
// resolved (/proc/net/stat/arp_cache, unresolved_discards, summed over
// its per-CPU lines): a frame sent with bpf_redirect_neigh to a next hop
// whose MAC is not known yet waits there, a few hundred KB at most.
// Host-wide.
inline std::uint64_t unresolved_discards()
{
	std::ifstream in("/proc/net/stat/arp_cache");
	std::string header;
	if (!std::getline(in, header))
		return 0;
	std::istringstream h(header);
	std::size_t col = 0;
	for (std::string name; h >> name && name != "unresolved_discards";)
		++col;
	std::uint64_t sum = 0;
	for (std::string line; std::getline(in, line);) {
		std::istringstream f(line);
		std::string v;
		for (std::size_t i = 0; i <= col && f >> v; ++i)
			if (i == col)
				sum += std::stoull(v, nullptr, 16);
	}
	return sum;
}

// 4 MiB from `from` to `to` (listening on dst:5001) over TCP, `family` the
// socket module's AF_INET or AF_INET6; the client retries until the
// server listens (for 10 s at most). The server fails unless it received
// all 4 MiB; its socket operations give up after 60 s without progress,
// the client's send after 60 s in all. The command fails when either
// side fails, and leaves neither running.
inline void tcp_stream(const NetnsChild &from, const NetnsChild &to, const std::string &dst,
		       const std::string &family)
{
	const std::string server =
	    "import socket\n"
	    "s=socket.socket(socket." + family + ")\n"
	    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
	    "s.bind(('" + dst + "',5001)); s.listen(1); s.settimeout(60)\n"
	    "c,_=s.accept(); c.settimeout(60); n=0\n"
	    "while True:\n"
	    "    b=c.recv(1<<20)\n"
	    "    if not b: break\n"
	    "    n+=len(b)\n"
	    "assert n==4<<20, n\n";
	const std::string client =
	    "import socket,time\n"
	    "end=time.monotonic()+10\n"
	    "while True:\n"
	    "    try:\n"
	    "        c=socket.create_connection(('" + dst + "',5001), timeout=1); break\n"
	    "    except OSError:\n"
	    "        if time.monotonic()>end: raise\n"
	    "        time.sleep(0.01)\n"
	    "c.settimeout(60); c.sendall(b'x'*(4<<20)); c.close()\n";
	sh("(exec " + to.in() + "python3 -c \"" + server + "\") & srv=$!; " + from.in() +
	   "python3 -c \"" + client + "\"; c=$?; [ $c -eq 0 ] || kill $srv 2>/dev/null; "
	   "wait $srv && [ $c -eq 0 ]");
}

} // namespace evpnmon::dp::test

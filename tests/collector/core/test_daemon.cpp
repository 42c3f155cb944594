// The daemon's options, its receive paths on loopback, and the running
// binary (start line, SIGTERM -> ISBs, SHUTDOWN, exit 0).
#include "support.hpp"

#include "daemon/inputs.hpp"
#include "daemon/options.hpp"

#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

using namespace core_test;

namespace {

RunOptions parse(std::vector<std::string> args)
{
	args.insert(args.begin(), "run");
	std::vector<const char *> argv;
	for (const auto &a : args)
		argv.push_back(a.c_str());
	return parse_run_options(static_cast<int>(argv.size()), argv.data());
}

// Root-only tests send GRE and capture on lo: in a network namespace of
// their own, so that a collector running beside them (a benchmark, a lab)
// sees none of it, and they see none of its traffic.
bool private_network()
{
	static int state = -1;
	if (state >= 0)
		return state == 1;
	state = 0;
	if (::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0)
		return false;
	const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
	ifreq ifr{};
	std::strcpy(ifr.ifr_name, "lo");
	if (::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (::ioctl(fd, SIOCSIFFLAGS, &ifr) == 0)
			state = 1;
	}
	::close(fd);
	return state == 1;
}

std::uint16_t free_udp_port()
{
	const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) == 0);
	socklen_t len = sizeof(sin);
	::getsockname(fd, reinterpret_cast<sockaddr *>(&sin), &len);
	::close(fd);
	return ntohs(sin.sin_port);
}

void send_udp(std::uint16_t port, const Bytes &payload)
{
	const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) ==
		static_cast<ssize_t>(payload.size()));
	::close(fd);
}

Bytes vxlan_gbp(std::uint32_t vni, std::uint16_t gbp, const Bytes &frame)
{
	Bytes b;
	put16(b, 0x8800); // G + I
	put16(b, gbp);
	put32(b, vni << 8);
	b.insert(b.end(), frame.begin(), frame.end());
	return b;
}

template <typename Pred> bool wait_for(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10))
{
	const auto end = std::chrono::steady_clock::now() + limit;
	while (std::chrono::steady_clock::now() < end) {
		if (pred())
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	return pred();
}

// Kills a child still running when a REQUIRE leaves the test early.
struct Child {
	pid_t pid = -1;
	~Child()
	{
		if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0) {
			::kill(pid, SIGKILL);
			::waitpid(pid, nullptr, 0);
		}
	}
};

std::string slurp(const fs::path &p)
{
	std::ifstream in(p);
	return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

TEST_CASE("options: defaults, every option, --config file, and refusals")
{
	auto o = parse({"--erspan", "--dir", "/tmp/x"});
	CHECK(o.erspan);
	CHECK(o.vxlan_port == 0);
	CHECK(o.port_capture.empty());
	CHECK(o.dir == "/tmp/x");
	CHECK(o.records);
	CHECK(o.publish == "tcp://127.0.0.1:9520");
	CHECK(o.metrics == "127.0.0.1:9521");
	CHECK(o.report_interval_ms == 1000);
	CHECK(o.flow_limit == 65536);
	CHECK(o.tcp_idle_s == 300);
	CHECK(o.handshake_timeout_s == 10);

	o = parse({"--vxlan-port", "4789", "--vxlan-bind", "10.9.0.1", "--port-capture", "eth1", "--session",
		   "web=span:7", "--session", "h=host:02:00:00:00:00:11,10.1.0.11", "--dir", "d",
		   "--rotate-size", "1000000", "--rotate-seconds", "60", "--keep-files", "5", "--keep-bytes",
		   "9000000", "--records", "off", "--publish", "tcp://*:0", "--metrics", "[::1]:0",
		   "--report-interval", "250", "--flow-limit", "100", "--tcp-idle", "30",
		   "--handshake-timeout", "3", "--log-level", "debug"});
	CHECK(o.vxlan_port == 4789);
	CHECK(o.vxlan_bind == "10.9.0.1");
	CHECK(o.port_capture == "eth1");
	REQUIRE(o.sessions.size() == 2);
	CHECK(o.sessions[0].name == "web");
	CHECK(o.sessions[1].kind == SessionSpec::Kind::Host);
	CHECK(o.rotate_size == 1000000);
	CHECK(o.rotate_seconds == 60);
	CHECK(o.keep_files == 5);
	CHECK(o.keep_bytes == 9000000);
	CHECK_FALSE(o.records);
	CHECK(o.publish == "tcp://*:0");
	CHECK(o.report_interval_ms == 250);
	CHECK(o.flow_limit == 100);
	CHECK(o.tcp_idle_s == 30);
	CHECK(o.handshake_timeout_s == 3);
	CHECK(o.log_level == "debug");

	TempDir tmp;
	const auto cfg = tmp.path / "c.toml";
	std::ofstream(cfg) << "erspan = true\ndir = \"/var/x\"\nsession = [\"a=span:1\", \"b=vxlan:100:2\"]\n"
			      "rotate-seconds = 30\nrecords = \"off\"\n";
	o = parse({"--config", cfg.string(), "--rotate-seconds", "10"});
	CHECK(o.erspan);
	CHECK(o.dir == "/var/x");
	CHECK(o.sessions.size() == 2);
	CHECK(o.rotate_seconds == 10); // the command line wins
	CHECK_FALSE(o.records);
	CHECK(o.config_file == cfg.string());

	const auto json = tmp.path / "s.json";
	std::ofstream(json) << R"({"evpn-monitor:fpm-consumer": {"sessions": {"session": [)"
			       R"({"vni": 100, "host-mac": "02:00:00:00:00:11", "session-id": "x/100"}]}}})";
	o = parse({"--port-capture", "eth1", "--sessions-json", json.string(), "--dir", "d"});
	REQUIRE(o.sessions.size() == 1);
	CHECK(o.sessions[0].name == "x_100");

	std::ofstream(tmp.path / "bad.toml") << "erspan = true\ndir = \"d\"\nno-such-option = 1\n";
	const std::vector<std::vector<std::string>> bad = {
		{"--erspan"},                                         // no --dir
		{"--dir", "d"},                                       // no input
		{"--port-capture", "eth1", "--dir", "d"},             // no host session
		{"--erspan", "--dir", "d", "--session", "x=span:2000"},
		{"--erspan", "--dir", "d", "--session", "x=span:1", "--session", "x=span:2"},
		{"--erspan", "--dir", "d", "--session", "x=span:1", "--session", "y=span:1"},
		{"--erspan", "--dir", "d", "--records", "maybe"},
		{"--erspan", "--dir", "d", "--metrics", "10.0.0.1:9521"},
		{"--erspan", "--dir", "d", "--metrics", "localhost"},
		{"--erspan", "--dir", "d", "--sessions-json", "/nonexistent.json"},
		{"--erspan", "--dir", "d", "--vxlan-port", "70000"},
		{"--config", (tmp.path / "bad.toml").string()},
	};
	for (const auto &args : bad) {
		CAPTURE(args.size());
		CAPTURE(args.back());
		CHECK_THROWS_AS(parse(args), CLI::ParseError);
	}
	// a non-loopback metrics address only when asked for
	o = parse({"--erspan", "--dir", "d", "--metrics", "10.0.0.1:9521", "--metrics-any-address"});
	CHECK(o.metrics_any_address);
}

TEST_CASE("inputs: UDP batches carry the sender and a kernel receive time")
{
	UdpInput in("127.0.0.1", 0, 1 << 20, 8);
	REQUIRE(in.port() != 0);
	const std::uint64_t before = realtime_ns();
	for (int i = 0; i < 20; ++i)
		send_udp(in.port(), Bytes(static_cast<std::size_t>(10 + i), static_cast<std::uint8_t>(i)));
	std::vector<std::size_t> sizes;
	std::vector<std::uint64_t> times;
	const bool ok = wait_for([&] {
		in.drain([&](std::span<const std::uint8_t> p, const IpAddr &from, std::uint64_t rx) {
			CHECK(from.to_string() == "127.0.0.1");
			sizes.push_back(p.size());
			times.push_back(rx);
		});
		return sizes.size() == 20;
	});
	REQUIRE(ok);
	for (std::size_t i = 0; i < 20; ++i)
		CHECK(sizes[i] == 10 + i);
	CHECK(times.front() >= before);
	CHECK(times.back() <= realtime_ns());
	CHECK(in.stats().packets == 20);
	CHECK(in.stats().calls >= 3); // batches of 8
}

TEST_CASE("inputs: the raw GRE socket receives GRE sent to this host (root only)")
{
	if (!private_network()) {
		MESSAGE("not root (no private network namespace): skipped");
		return;
	}
	RawGreInput in(1 << 20, 16);
	const int tx = ::socket(AF_INET, SOCK_RAW, IPPROTO_GRE);
	REQUIRE(tx >= 0);
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7F000063); // 127.0.0.99
	// GRE S, 0x88BE, seq, ERSPAN II span 513, then an ARP frame
	Bytes g;
	put16(g, 0x1000);
	put16(g, 0x88BE);
	put32(g, 77);
	put32(g, (1u << 28) | 513);
	put32(g, 0);
	const Bytes f = arp_frame(kPeer, kHost);
	g.insert(g.end(), f.begin(), f.end());
	REQUIRE(::sendto(tx, g.data(), g.size(), 0, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) > 0);
	::close(tx);
	bool seen = false;
	REQUIRE(wait_for([&] {
		in.drain([&](std::span<const std::uint8_t> p, std::uint64_t) {
			Copy c;
			if (decode_gre_ip(p, c) == DecodeError::None && c.span_id == 513 && c.seq == 77 &&
			    c.destination.to_string() == "127.0.0.99")
				seen = true;
		});
		return seen;
	}));
}

TEST_CASE("daemon: the binary starts, logs its inputs, writes, and stops on SIGTERM with ISBs and exit 0")
{
	const char *build = std::getenv("EVPNMON_BUILD_DIR");
	fs::path bin = build ? fs::path(build) / "collector" / "evpnmon-collector" : fs::path();
	if (!build || !fs::exists(bin)) {
		MESSAGE("EVPNMON_BUILD_DIR not set or binary missing: skipped");
		return;
	}
	TempDir tmp;
	const auto log = tmp.path / "log";
	const std::uint16_t port = free_udp_port();
	const std::string port_s = std::to_string(port), dir = (tmp.path / "out").string();
	Child child;
	const pid_t pid = child.pid = ::fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		::dup2(fd, 1);
		::dup2(fd, 2);
		::execl(bin.c_str(), bin.c_str(), "run", "--vxlan-port", port_s.c_str(), "--vxlan-bind", "127.0.0.1",
			"--dir", dir.c_str(), "--publish", "tcp://127.0.0.1:0", "--metrics", "127.0.0.1:0",
			"--session", "db=vxlan:1000:21", "--report-interval", "100", nullptr);
		::_exit(127);
	}
	const bool ready = wait_for([&] { return slurp(log).find("ready: inputs vxlan(udp 127.0.0.1:" + port_s) !=
						     std::string::npos; });
	if (!ready) {
		::kill(pid, SIGKILL);
		::waitpid(pid, nullptr, 0);
		FAIL("no ready line: " << slurp(log));
	}
	const IpAddr hip = ip4(10, 1, 0, 11), pip = ip4(10, 1, 0, 22);
	send_udp(port, vxlan_gbp(1000, 21, tcp_frame(kPeer, kHost, hip, pip, 40000, 80, 0x02, 1, 0)));
	send_udp(port, vxlan_gbp(1000, 21, tcp_frame(kHost, kPeer, pip, hip, 80, 40000, 0x12, 9, 2)));
	send_udp(port, vxlan_gbp(2000, 5, arp_frame(kPeer, kHost)));
	const fs::path db = tmp.path / "out" / "db";
	// flushed within a tick
	REQUIRE(wait_for([&] {
		const auto files = files_of(db);
		const auto other = files_of(tmp.path / "out" / "vni-2000-host-5");
		return files.size() == 1 && count_epbs(files[0]) == 2 && other.size() == 1 &&
		       count_epbs(other[0]) == 1;
	}));
	::kill(pid, SIGTERM);
	int status = 0;
	REQUIRE(wait_for([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }));
	child.pid = -1;
	REQUIRE(WIFEXITED(status));
	CHECK(WEXITSTATUS(status) == 0);
	CHECK(slurp(log).find("stopped: copies 3") != std::string::npos);
	const auto file = read_pcapng(files_of(db)[0]);
	REQUIRE(file.idbs.size() == 1);
	CHECK(file.idbs[0].name == "vxlan:127.0.0.1");
	CHECK(file.epbs.size() == 2);
	CHECK(file.isbs.size() == 1);
}

TEST_CASE("inputs: the TPACKET_V3 ring hands over received frames once, with their time (root only)")
{
	if (!private_network()) {
		MESSAGE("not root (no private network namespace): skipped");
		return;
	}
	PacketRingInput::Ring ring;
	ring.block_size = 1u << 16;
	ring.block_count = 4;
	ring.block_timeout_ms = 5;
	PacketRingInput in("lo", ring);
	const std::uint16_t port = free_udp_port();
	const std::uint64_t before = realtime_ns();
	Bytes payload{'h', '4', '-', 'r', 'i', 'n', 'g'};
	for (int i = 0; i < 50; ++i) {
		payload.push_back(static_cast<std::uint8_t>(i));
		send_udp(port, payload);
		payload.pop_back();
	}
	int seen = 0;
	std::uint64_t first_ts = 0;
	REQUIRE(wait_for([&] {
		in.drain([&](std::span<const std::uint8_t> f, std::uint64_t ts) {
			// lo: 14-octet Ethernet header (zero MACs), IPv4, UDP
			if (f.size() == 14 + 20 + 8 + payload.size() + 1 &&
			    std::equal(payload.begin(), payload.end(), f.begin() + 42)) {
				++seen;
				if (!first_ts)
					first_ts = ts;
			}
		});
		return seen >= 50;
	}));
	// outgoing copies on lo are ignored: each datagram once
	std::this_thread::sleep_for(std::chrono::milliseconds(20));
	in.drain([&](std::span<const std::uint8_t> f, std::uint64_t) {
		if (f.size() == 14 + 20 + 8 + payload.size() + 1 &&
		    std::equal(payload.begin(), payload.end(), f.begin() + 42))
			++seen;
	});
	CHECK(seen == 50);
	CHECK(first_ts >= before);
	CHECK(first_ts <= realtime_ns());
}

namespace {

Bytes gre_erspan2(std::uint16_t span, std::uint32_t seq, const Bytes &frame)
{
	Bytes g;
	put16(g, 0x1000);
	put16(g, 0x88BE);
	put32(g, seq);
	put32(g, (1u << 28) | span);
	put32(g, 0);
	g.insert(g.end(), frame.begin(), frame.end());
	return g;
}

void send_gre(const Bytes &gre, std::uint32_t dst = 0x7F000001)
{
	const int tx = ::socket(AF_INET, SOCK_RAW, IPPROTO_GRE);
	REQUIRE(tx >= 0);
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(dst);
	REQUIRE(::sendto(tx, gre.data(), gre.size(), 0, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) > 0);
	::close(tx);
}

} // namespace

TEST_CASE("inputs: ERSPAN from a TPACKET_V3 ring keeps only IPv4 GRE (root only)")
{
	if (!private_network()) {
		MESSAGE("not root (no private network namespace): skipped");
		return;
	}
	evpnmon::UniqueFd sink = open_gre_sink();
	PacketRingInput::Ring ring;
	ring.block_size = 1u << 16;
	ring.block_count = 4;
	ring.block_timeout_ms = 5;
	PacketRingInput in("lo", ring, true, PacketRingInput::Filter::Ipv4Gre);
	const Bytes f = arp_frame(kPeer, kHost);
	send_udp(free_udp_port(), Bytes(40, 1)); // filtered out
	for (std::uint32_t s = 1; s <= 10; ++s)
		send_gre(gre_erspan2(300, s, f));
	std::vector<std::uint32_t> seqs;
	int other = 0;
	REQUIRE(wait_for([&] {
		in.drain([&](std::span<const std::uint8_t> frame, std::uint64_t) {
			Copy c;
			if (decode_gre_ether(frame, c) == DecodeError::None && c.span_id == 300)
				seqs.push_back(c.seq);
			else
				++other;
		});
		return seqs.size() >= 10;
	}));
	CHECK(other == 0);
	CHECK(seqs == std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
}

TEST_CASE("daemon: ERSPAN by raw socket and by ring, files and SIGTERM (root only)")
{
	const char *build = std::getenv("EVPNMON_BUILD_DIR");
	fs::path bin = build ? fs::path(build) / "collector" / "evpnmon-collector" : fs::path();
	if (!build || !fs::exists(bin) || !private_network()) {
		MESSAGE("needs root and EVPNMON_BUILD_DIR: skipped");
		return;
	}
	for (const std::string mode : {"--erspan", "--erspan-ring"}) {
		CAPTURE(mode);
		TempDir tmp;
		const auto log = tmp.path / "log";
		const std::string dir = (tmp.path / "out").string();
		Child child;
		const pid_t pid = child.pid = ::fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
			::dup2(fd, 1);
			::dup2(fd, 2);
			if (mode == "--erspan")
				::execl(bin.c_str(), bin.c_str(), "run", "--erspan", "--dir", dir.c_str(), "--publish",
					"tcp://127.0.0.1:0", "--metrics", "", nullptr);
			else
				::execl(bin.c_str(), bin.c_str(), "run", "--erspan-ring", "lo", "--dir", dir.c_str(),
					"--publish", "tcp://127.0.0.1:0", "--metrics", "", nullptr);
			::_exit(127);
		}
		const bool ready = wait_for([&] { return slurp(log).find("ready: inputs erspan(") != std::string::npos; });
		if (!ready) {
			::kill(pid, SIGKILL);
			::waitpid(pid, nullptr, 0);
			FAIL("no ready line: " << slurp(log));
		}
		const Bytes f = arp_frame(kPeer, kHost);
		for (std::uint32_t s : {1u, 2u, 5u}) // 3, 4 lost
			send_gre(gre_erspan2(12, s, f));
		const fs::path sdir = tmp.path / "out" / "span-12";
		REQUIRE(wait_for([&] {
			const auto files = files_of(sdir);
			return files.size() == 1 && count_epbs(files[0]) == 3;
		}));
		::kill(pid, SIGTERM);
		int status = 0;
		REQUIRE(wait_for([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }));
		child.pid = -1;
		REQUIRE(WIFEXITED(status));
		CHECK(WEXITSTATUS(status) == 0);
		CHECK(slurp(log).find("stopped: copies 3 losses 2") != std::string::npos);
		const auto file = read_pcapng(files_of(sdir)[0]);
		REQUIRE(file.isbs.size() == 1);
		CHECK(file.isbs[0].ifdrop == 2);
		CHECK(file.epbs[2].dropcount == 2);
	}
}

// evpnmon-erspan-replay: generate an ERSPAN III stream as several VTEPs
// would send it (IPv4 / GRE with sequence numbers / ERSPAN III with the
// platform subheader carrying the upper timestamp bits / a 64-octet inner
// TCP frame) and send it on a device through an AF_PACKET socket, as fast
// as possible or at a given rate. The sources take turns, each with its own
// contiguous GRE sequence space from 0, and the timestamps are the current
// UNIX time in 100 ns units, so a collector sees a stream it can verify: no
// loss, one interface per source, times close to its receive times.
//
// The inner frames are TCP: for each connection 8 segments in turn (SYN,
// SYN/ACK, ACK, data, ACK, FIN, FIN, ACK), connections numbered round robin
// over --flows (default 2^24: each one new)
// (client 192.168.<source number>.220, server 192.168.100.210 port 5001+),
// so a collector with records on sees a handshake and a close per 8 copies.
//
//   evpnmon-erspan-replay DEV DST_MAC [--sources N] [--span ID]
//       [--seconds S | --count N] [--rate PPS] [--inner BYTES] [--flows N]
//       [--gap-every N] [--pcap FILE]
//
// --gap-every N skips one sequence number after every N copies of each
// source (copies "lost" on the way, for loss accounting checks).
// --pcap FILE also writes every frame sent to FILE (pcap, ns timestamps =
// the send time): the tests' record of what was sent.
// Prints one JSON object: copies sent, seconds, the last sequence number of
// each source, CPU seconds of this process.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kEth = 14, kIp = 20, kGre = 8, kErspan = 12, kSub = 8;
constexpr std::size_t kOuter = kEth + kIp + kGre + kErspan + kSub; // 62

struct Args {
	std::string dev;
	std::array<std::uint8_t, 6> dst{};
	unsigned sources = 4;
	unsigned span = 7;
	double seconds = 0;
	unsigned long long count = 0;
	double rate = 0;
	std::size_t inner = 64;
	unsigned flows = 1u << 24;
	unsigned gap_every = 0;
	std::string pcap;
};

bool parse_mac(const char *s, std::array<std::uint8_t, 6> &out)
{
	unsigned v[6];
	if (std::sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return false;
	for (int i = 0; i < 6; ++i)
		out[i] = static_cast<std::uint8_t>(v[i]);
	return true;
}

void put16(std::uint8_t *p, std::uint32_t v)
{
	p[0] = static_cast<std::uint8_t>(v >> 8);
	p[1] = static_cast<std::uint8_t>(v);
}

void put32(std::uint8_t *p, std::uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

std::uint16_t csum(const std::uint8_t *p, std::size_t n)
{
	std::uint32_t s = 0;
	for (std::size_t i = 0; i + 1 < n; i += 2)
		s += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += static_cast<std::uint32_t>(p[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return static_cast<std::uint16_t>(~s);
}

std::uint64_t now_100ns()
{
	timespec ts{};
	clock_gettime(CLOCK_REALTIME, &ts);
	return (static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
		static_cast<std::uint64_t>(ts.tv_nsec)) / 100;
}

class Builder {
public:
	Builder(const Args &a, const std::array<std::uint8_t, 6> &src_mac) : a_(a)
	{
		seq_.assign(a.sources, 0);
		last_.assign(a.sources, -1);
		sent_.assign(a.sources, 0);
		tmpl_.assign(kOuter + a.inner, 0);
		auto *f = tmpl_.data();
		std::memcpy(f, a.dst.data(), 6);
		std::memcpy(f + 6, src_mac.data(), 6);
		put16(f + 12, 0x0800);
		auto *ip = f + kEth;
		ip[0] = 0x45;
		put16(ip + 2, static_cast<std::uint32_t>(tmpl_.size() - kEth));
		ip[8] = 63; // one router (the spine) on the way
		ip[9] = 47;
		put32(ip + 16, 0x0a090001); // 10.9.0.1
		auto *gre = ip + kIp;
		put16(gre, 0x1000);
		put16(gre + 2, 0x22eb);
		auto *er = gre + kGre;
		// Ver 2, VLAN 0, COS 0, BSO 0, T 0, session id
		put32(er, (2u << 28) | (a.span & 0x3ff));
		// SGT 0, P 1, FT 0, HW ID (set per source), D, Gra 01, O 1
		auto *sub = er + kErspan;
		put32(sub, 3u << 26); // platform id 3
		// inner Ethernet / IPv4 / TCP
		auto *in = sub + kSub;
		const std::uint8_t cmac[6] = {0x02, 0, 0, 0, 0x02, 0x20};
		const std::uint8_t smac[6] = {0x02, 0, 0, 0, 0x02, 0x10};
		std::memcpy(in, smac, 6);
		std::memcpy(in + 6, cmac, 6);
		put16(in + 12, 0x0800);
		auto *iip = in + kEth;
		iip[0] = 0x45;
		put16(iip + 2, static_cast<std::uint32_t>(a.inner - kEth));
		iip[8] = 64;
		iip[9] = 6;
		auto *tcp = iip + kIp;
		tcp[12] = 5 << 4;
		put16(tcp + 14, 64240);
	}

	// Fill `buf` (tmpl_.size() octets) with copy number `n` of the stream.
	void build(std::uint8_t *buf, std::uint64_t n, std::uint64_t ts)
	{
		std::memcpy(buf, tmpl_.data(), tmpl_.size());
		const unsigned s = static_cast<unsigned>(n % a_.sources);
		std::uint32_t seq = seq_[s]++;
		last_[s] = static_cast<std::int64_t>(seq);
		if (a_.gap_every && ++sent_[s] % a_.gap_every == 0)
			seq_[s]++; // the next sequence number is "lost"
		auto *ip = buf + kEth;
		put16(ip + 4, seq & 0xffff);
		put32(ip + 12, 0x0a000065 + s); // 10.0.0.101 + s
		put16(ip + 10, 0);
		put16(ip + 10, csum(ip, kIp));
		auto *gre = ip + kIp;
		put32(gre + 4, seq);
		auto *er = gre + kGre;
		const std::uint64_t k = n / a_.sources; // copy number within the source
		const std::uint64_t flow = (k / 8) % a_.flows;
		const unsigned phase = static_cast<unsigned>(k % 8);
		const bool reply = phase == 1 || phase == 4 || phase == 6;  // from the server
		put32(er + 4, static_cast<std::uint32_t>(ts));
		put32(er + 8, (1u << 15) | (((s + 1) & 0x3f) << 4) | (reply ? 0u : 1u) << 3 |
				      (1u << 1) | 1u);
		put32(er + kErspan + 4, static_cast<std::uint32_t>(ts >> 32));
		auto *in = buf + kOuter;
		auto *iip = in + kEth;
		// one client address per source: each source's connections are its own
		const std::uint32_t client = 0xc0a80000 | (s + 1) << 8 | 0xdc,
				    server = 0xc0a86400 | 0xd2;
		const std::uint16_t cport = static_cast<std::uint16_t>(1024 + flow % 60000);
		const std::uint16_t sport = static_cast<std::uint16_t>(5001 + flow / 60000);
		if (reply) {
			put32(iip + 12, server);
			put32(iip + 16, client);
		} else {
			put32(iip + 12, client);
			put32(iip + 16, server);
		}
		// a whole connection in 8 segments: SYN, SYN/ACK, ACK, 10 octets
		// of data, its ACK, FIN/ACK, FIN/ACK, ACK (the rest of the frame is
		// Ethernet padding)
		static constexpr std::uint8_t kFlags[8] = {0x02, 0x12, 0x10, 0x18,
							   0x10, 0x11, 0x11, 0x10};
		static constexpr std::uint32_t kCseq[8] = {0, 0, 1, 1, 0, 11, 0, 12};
		static constexpr std::uint32_t kCack[8] = {0, 0, 1, 1, 0, 1, 0, 2};
		static constexpr std::uint32_t kSseq[8] = {0, 0, 0, 0, 1, 0, 1, 0};
		static constexpr std::uint32_t kSack[8] = {0, 1, 0, 0, 11, 0, 12, 0};
		const std::uint32_t payload = phase == 3 ? 10 : 0;
		put16(iip + 2, kIp + 20 + payload);
		put16(iip + 4, static_cast<std::uint32_t>(k & 0xffff));
		put16(iip + 10, csum(iip, kIp));
		auto *tcp = iip + kIp;
		put16(tcp, reply ? sport : cport);
		put16(tcp + 2, reply ? cport : sport);
		const std::uint32_t cisn = static_cast<std::uint32_t>(flow * 7919u),
				    sisn = static_cast<std::uint32_t>(flow * 104729u);
		put32(tcp + 4, reply ? sisn + kSseq[phase] : cisn + kCseq[phase]);
		put32(tcp + 8, reply ? cisn + kSack[phase] : phase == 0 ? 0 : sisn + kCack[phase]);
		tcp[13] = kFlags[phase];
	}

	std::size_t size() const { return tmpl_.size(); }
	const std::vector<std::int64_t> &last() const { return last_; }

private:
	const Args &a_;
	std::vector<std::uint8_t> tmpl_;
	std::vector<std::uint32_t> seq_;
	std::vector<std::int64_t> last_;
	std::vector<std::uint64_t> sent_;
};

double cpu_seconds()
{
	rusage ru{};
	getrusage(RUSAGE_SELF, &ru);
	return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int usage()
{
	std::fprintf(stderr,
		     "usage: evpnmon-erspan-replay DEV DST_MAC [--sources N] [--span ID]\n"
		     "       [--seconds S | --count N] [--rate PPS] [--inner BYTES] [--flows N]\n"
		     "       [--gap-every N] [--pcap FILE]\n");
	return 2;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	Args a;
	a.dev = argv[1];
	if (!parse_mac(argv[2], a.dst))
		return usage();
	for (int i = 3; i < argc; ++i) {
		std::string_view o = argv[i];
		if (i + 1 >= argc)
			return usage();
		const char *v = argv[++i];
		if (o == "--sources")
			a.sources = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
		else if (o == "--span")
			a.span = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
		else if (o == "--seconds")
			a.seconds = std::atof(v);
		else if (o == "--count")
			a.count = std::strtoull(v, nullptr, 10);
		else if (o == "--rate")
			a.rate = std::atof(v);
		else if (o == "--inner")
			a.inner = std::strtoul(v, nullptr, 10);
		else if (o == "--flows")
			a.flows = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
		else if (o == "--pcap")
			a.pcap = v;
		else if (o == "--gap-every")
			a.gap_every = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
		else
			return usage();
	}
	if (a.sources == 0 || a.sources > 64 || a.inner < 60 || a.flows == 0 ||
	    (a.seconds <= 0 && a.count == 0))
		return usage();

	int fd = ::socket(AF_PACKET, SOCK_RAW, 0); // send only
	sockaddr_ll sll{};
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = static_cast<int>(if_nametoindex(a.dev.c_str()));
	sll.sll_halen = 6;
	if (fd < 0 || !sll.sll_ifindex) {
		std::perror("socket/device");
		return 1;
	}
	ifreq ifr{};
	std::strncpy(ifr.ifr_name, a.dev.c_str(), IFNAMSIZ - 1);
	std::array<std::uint8_t, 6> src_mac{};
	if (::ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		std::memcpy(src_mac.data(), ifr.ifr_hwaddr.sa_data, 6);
	int one = 1; // bypass the qdisc layer on the sender's veth
	::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
	int sndbuf = 4 << 20;
	::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

	Builder b(a, src_mac);
	std::FILE *pcap = nullptr;
	if (!a.pcap.empty()) {
		pcap = std::fopen(a.pcap.c_str(), "wb");
		if (!pcap) {
			std::perror(a.pcap.c_str());
			return 1;
		}
		// nanosecond pcap, Ethernet
		const std::uint32_t hdr[6] = {0xa1b23c4d, 0x00040002, 0, 0, 262144, 1};
		std::fwrite(hdr, sizeof hdr, 1, pcap);
	}
	constexpr int kBatch = 64;
	std::vector<std::uint8_t> bufs(kBatch * b.size());
	std::vector<iovec> iov(kBatch);
	std::vector<mmsghdr> msgs(kBatch);
	for (int i = 0; i < kBatch; ++i) {
		iov[i] = {bufs.data() + i * b.size(), b.size()};
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof sll;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	using clock = std::chrono::steady_clock;
	const auto t0 = clock::now();
	const auto end = a.seconds > 0 ? t0 + std::chrono::duration<double>(a.seconds)
				       : clock::time_point::max();
	unsigned long long sent = 0, retries = 0;
	while (clock::now() < end && (a.count == 0 || sent < a.count)) {
		int n = kBatch;
		if (a.count && a.count - sent < static_cast<unsigned long long>(n))
			n = static_cast<int>(a.count - sent);
		if (a.rate > 0) {
			// pace: copy number `sent` is due at t0 + sent / rate
			const auto due = t0 + std::chrono::duration<double>(
						      static_cast<double>(sent) / a.rate);
			std::this_thread::sleep_until(
				std::chrono::time_point_cast<clock::duration>(due));
			const double burst = std::max(1.0, a.rate / 1000.0);
			n = std::min<int>(n, static_cast<int>(burst));
		}
		const std::uint64_t ts = now_100ns();
		for (int i = 0; i < n; ++i)
			b.build(bufs.data() + i * b.size(), sent + i, ts);
		int done = 0;
		while (done < n) {
			int r = ::sendmmsg(fd, msgs.data() + done, static_cast<unsigned>(n - done), 0);
			if (r > 0) {
				done += r;
			} else {
				++retries; // socket buffer full: let the receiver catch up
				std::this_thread::sleep_for(std::chrono::microseconds(50));
			}
		}
		if (pcap) {
			timespec now{};
			clock_gettime(CLOCK_REALTIME, &now);
			for (int i = 0; i < n; ++i) {
				const std::uint32_t rec[4] = {static_cast<std::uint32_t>(now.tv_sec),
							      static_cast<std::uint32_t>(now.tv_nsec),
							      static_cast<std::uint32_t>(b.size()),
							      static_cast<std::uint32_t>(b.size())};
				std::fwrite(rec, sizeof rec, 1, pcap);
				std::fwrite(bufs.data() + i * b.size(), b.size(), 1, pcap);
			}
		}
		sent += static_cast<unsigned long long>(n);
	}
	if (pcap)
		std::fclose(pcap);
	const double secs = std::chrono::duration<double>(clock::now() - t0).count();
	std::printf("{\"sent\": %llu, \"seconds\": %.6f, \"cpu_seconds\": %.3f, \"retries\": %llu, "
		    "\"frame_octets\": %zu, \"last_seq\": {",
		    sent, secs, cpu_seconds(), retries, b.size());
	for (unsigned s = 0; s < a.sources; ++s)
		std::printf("%s\"10.0.0.%u\": %lld", s ? ", " : "", 101 + s,
			    static_cast<long long>(b.last()[s]));
	std::printf("}}\n");
	return 0;
}

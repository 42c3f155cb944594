// pktblast: send one UDP frame as fast as possible on a device through an
// AF_PACKET socket (sendmmsg batches) for a number of seconds; prints the
// number of frames sent and the CPU seconds this process used (user+system;
// without IRQ time accounting that includes the softirq work of bridging the
// frames, which runs on this task's syscall exit). Used by bench_linux.sh.
//   pktblast DEV SRC_MAC DST_MAC SECONDS [FRAME_BYTES]
#include <evpnmon/dataplane/types.hpp>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
	if (argc < 5) {
		std::fprintf(stderr, "usage: pktblast DEV SRC_MAC DST_MAC SECONDS [BYTES]\n");
		return 2;
	}
	auto src = evpnmon::dp::parse_mac(argv[2]), dst = evpnmon::dp::parse_mac(argv[3]);
	const double secs = std::atof(argv[4]);
	const std::size_t bytes = argc > 5 ? std::strtoul(argv[5], nullptr, 10) : 64;
	if (!src || !dst || bytes < 60)
		return 2;
	std::vector<std::uint8_t> f(dst->begin(), dst->end());
	f.insert(f.end(), src->begin(), src->end());
	const auto iplen = static_cast<std::uint16_t>(bytes - 14);
	f.insert(f.end(), {0x08, 0x00, 0x45, 0, static_cast<std::uint8_t>(iplen >> 8),
			   static_cast<std::uint8_t>(iplen), 0, 1, 0, 0, 64, 17, 0, 0,
			   10, 1, 0, 1, 10, 1, 0, 2, 0x9c, 0x40, 0x9c, 0x41,
			   static_cast<std::uint8_t>((iplen - 20) >> 8),
			   static_cast<std::uint8_t>(iplen - 20), 0, 0});
	f.resize(bytes, 0xab);
	// Valid IPv4 header checksum: with br_netfilter loaded, bridged IPv4
	// frames with a bad header are dropped before forwarding.
	std::uint32_t sum = 0;
	for (std::size_t i = 14; i < 34; i += 2)
		sum += static_cast<std::uint32_t>(f[i] << 8 | f[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[24] = static_cast<std::uint8_t>(~sum >> 8);
	f[25] = static_cast<std::uint8_t>(~sum);

	int fd = ::socket(AF_PACKET, SOCK_RAW, 0); // send only
	sockaddr_ll sll{};
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = static_cast<int>(if_nametoindex(argv[1]));
	sll.sll_halen = 6;
	if (fd < 0 || !sll.sll_ifindex) {
		std::perror("socket/device");
		return 1;
	}
	int one = 1; // bypass the qdisc layer on the sender's veth
	::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
	constexpr int kBatch = 64;
	iovec iov{f.data(), f.size()};
	std::vector<mmsghdr> msgs(kBatch);
	for (auto &m : msgs) {
		m.msg_hdr.msg_name = &sll;
		m.msg_hdr.msg_namelen = sizeof sll;
		m.msg_hdr.msg_iov = &iov;
		m.msg_hdr.msg_iovlen = 1;
	}
	using clock = std::chrono::steady_clock;
	const auto end = clock::now() + std::chrono::duration<double>(secs);
	unsigned long long sent = 0;
	while (clock::now() < end) {
		int n = ::sendmmsg(fd, msgs.data(), kBatch, 0);
		if (n > 0)
			sent += static_cast<unsigned>(n);
	}
	rusage ru{};
	::getrusage(RUSAGE_SELF, &ru);
	const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			   static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	std::printf("%llu %.6f\n", sent, cpu);
	return 0;
}

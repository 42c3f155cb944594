// Packet capture for the dataplane tests that see copies as real frames:
// AF_PACKET sockets on a device, frames read with their 802.1Q tag put
// back, and VXLAN-GBP copies parsed back into an Output.
#pragma once

#include <evpnmon/dataplane/memory.hpp>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

namespace evpnmon::dp::table {

// A non-blocking packet socket bound to one device: it sees what the
// device receives and, as PACKET_OUTGOING, what it transmits.
inline int packet_socket(const std::string &dev)
{
	int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			  htons(ETH_P_ALL));
	if (fd < 0)
		throw std::runtime_error("AF_PACKET socket");
	sockaddr_ll sll{};
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
	if (::bind(fd, reinterpret_cast<sockaddr *>(&sll), sizeof sll) < 0)
		throw std::runtime_error("bind " + dev);
	int one = 1;
	::setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one);
	return fd;
}

// recvfrom() on a packet socket, re-inserting the 802.1Q tag the kernel
// moved into metadata (as tcpdump does).
inline ssize_t recv_frame(int fd, std::uint8_t *buf, std::size_t len, sockaddr_ll &from)
{
	iovec iov{buf + 4, len - 4};
	alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(tpacket_auxdata))];
	msghdr msg{};
	msg.msg_name = &from;
	msg.msg_namelen = sizeof from;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl;
	msg.msg_controllen = sizeof ctl;
	ssize_t n = ::recvmsg(fd, &msg, 0);
	if (n <= 0)
		return n;
	std::memmove(buf, buf + 4, static_cast<std::size_t>(n));
	for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
			continue;
		tpacket_auxdata aux;
		std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
		if (!(aux.tp_status & TP_STATUS_VLAN_VALID) || n < 12)
			continue;
		std::memmove(buf + 16, buf + 12, static_cast<std::size_t>(n - 12));
		const std::uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID)
					       ? aux.tp_vlan_tpid : 0x8100;
		buf[12] = static_cast<std::uint8_t>(tpid >> 8);
		buf[13] = static_cast<std::uint8_t>(tpid);
		buf[14] = static_cast<std::uint8_t>(aux.tp_vlan_tci >> 8);
		buf[15] = static_cast<std::uint8_t>(aux.tp_vlan_tci);
		n += 4;
	}
	return n;
}

// A VXLAN-GBP copy (UDP 4790) leaving the underlay device: VTEP, VNI,
// Group Policy ID and the inner frame.
inline std::optional<Output> parse_vxlan(std::span<const std::uint8_t> f, int pkttype)
{
	if (pkttype != PACKET_OUTGOING || f.size() < 14 + 20 + 8 + 8 ||
	    f[12] != 0x08 || f[13] != 0x00 || f[23] != 17)
		return std::nullopt;
	const std::size_t ihl = (f[14] & 0x0f) * 4u;
	const std::size_t udp = 14 + ihl;
	if ((f[udp + 2] << 8 | f[udp + 3]) != 4790)
		return std::nullopt;
	const std::size_t vx = udp + 8;
	Output o;
	o.kind = Output::Kind::VxlanCopy;
	std::copy_n(f.begin() + 30, 4, o.remote_vtep.begin());
	if (!(f[vx] & 0x80)) // G bit: GBP extension present
		o.host_id = 0;
	else
		o.host_id = static_cast<std::uint16_t>(f[vx + 2] << 8 | f[vx + 3]);
	o.vni = static_cast<std::uint32_t>(f[vx + 4] << 16 | f[vx + 5] << 8 | f[vx + 6]);
	o.frame.assign(f.begin() + static_cast<long>(vx + 8), f.end());
	return o;
}

// Table frames are unicast or broadcast; other multicast on a port is the
// kernel's own (IGMP, ND) and not part of a case.
inline bool foreign_multicast(std::span<const std::uint8_t> f)
{
	static const std::uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	return (f[0] & 1) && std::memcmp(f.data(), bcast, 6) != 0;
}

} // namespace evpnmon::dp::table

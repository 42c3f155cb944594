#include "profile_table.hpp"

#include <stdexcept>

namespace evpnmon::dp::table {

namespace frames {

namespace {

void put16(std::vector<std::uint8_t> &f, std::uint16_t v)
{
	f.push_back(static_cast<std::uint8_t>(v >> 8));
	f.push_back(static_cast<std::uint8_t>(v));
}

std::uint16_t csum(const std::uint8_t *p, std::size_t n)
{
	std::uint32_t s = 0;
	for (std::size_t i = 0; i + 1 < n; i += 2)
		s += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return static_cast<std::uint16_t>(~s);
}

std::vector<std::uint8_t> eth(const std::string &src_mac, const std::string &dst_mac,
			      std::uint16_t type)
{
	auto s = parse_mac(src_mac), d = parse_mac(dst_mac);
	if (!s || !d)
		throw std::invalid_argument("bad MAC");
	std::vector<std::uint8_t> f(d->begin(), d->end());
	f.insert(f.end(), s->begin(), s->end());
	put16(f, type);
	return f;
}

// Ethernet + IPv4/IPv6 header (by the addresses' family) + l4 bytes.
std::vector<std::uint8_t> ip(const std::string &src_ip, const std::string &dst_ip,
			     std::uint8_t proto, const std::vector<std::uint8_t> &l4,
			     const std::string &src_mac, const std::string &dst_mac)
{
	auto si = parse_ip(src_ip), di = parse_ip(dst_ip);
	if (!si || !di || si->family != di->family)
		throw std::invalid_argument("bad IP");
	std::vector<std::uint8_t> f;
	if (si->family == IpAddr::Family::V4) {
		f = eth(src_mac, dst_mac, 0x0800);
		std::vector<std::uint8_t> h = {0x45, 0};
		put16(h, static_cast<std::uint16_t>(20 + l4.size()));
		put16(h, 1);
		put16(h, 0);
		h.push_back(64);
		h.push_back(proto);
		put16(h, 0);
		h.insert(h.end(), si->bytes.begin(), si->bytes.begin() + 4);
		h.insert(h.end(), di->bytes.begin(), di->bytes.begin() + 4);
		auto c = csum(h.data(), h.size());
		h[10] = static_cast<std::uint8_t>(c >> 8);
		h[11] = static_cast<std::uint8_t>(c);
		f.insert(f.end(), h.begin(), h.end());
	} else {
		f = eth(src_mac, dst_mac, 0x86dd);
		std::vector<std::uint8_t> h = {0x60, 0, 0, 0};
		put16(h, static_cast<std::uint16_t>(l4.size()));
		h.push_back(proto);
		h.push_back(64);
		h.insert(h.end(), si->bytes.begin(), si->bytes.end());
		h.insert(h.end(), di->bytes.begin(), di->bytes.end());
		f.insert(f.end(), h.begin(), h.end());
	}
	f.insert(f.end(), l4.begin(), l4.end());
	return padded(std::move(f), 60);
}

} // namespace

std::vector<std::uint8_t> padded(std::vector<std::uint8_t> f, std::size_t len)
{
	if (f.size() < len)
		f.resize(len, 0);
	return f;
}

std::vector<std::uint8_t> udp(const std::string &src_ip, const std::string &dst_ip,
			      std::uint16_t sport, std::uint16_t dport,
			      const std::vector<std::uint8_t> &payload,
			      const std::string &src_mac, const std::string &dst_mac)
{
	std::vector<std::uint8_t> u;
	put16(u, sport);
	put16(u, dport);
	put16(u, static_cast<std::uint16_t>(8 + payload.size()));
	put16(u, 0xffff); // any non-zero checksum (IPv6 needs one)
	u.insert(u.end(), payload.begin(), payload.end());
	return ip(src_ip, dst_ip, 17, u, src_mac, dst_mac);
}

std::vector<std::uint8_t> tcp(const std::string &src_ip, const std::string &dst_ip,
			      std::uint16_t sport, std::uint16_t dport,
			      const std::vector<std::uint8_t> &options,
			      const std::vector<std::uint8_t> &payload)
{
	if (options.size() % 4)
		throw std::invalid_argument("TCP options: multiple of 4 octets");
	std::vector<std::uint8_t> t;
	put16(t, sport);
	put16(t, dport);
	for (int i = 0; i < 8; ++i)
		t.push_back(0); // seq, ack
	t.push_back(static_cast<std::uint8_t>((5 + options.size() / 4) << 4));
	t.push_back(0x18); // PSH ACK
	put16(t, 65535);
	put16(t, 0);
	put16(t, 0);
	t.insert(t.end(), options.begin(), options.end());
	t.insert(t.end(), payload.begin(), payload.end());
	return ip(src_ip, dst_ip, 6, t, "02:00:00:00:00:01", "02:00:00:00:00:02");
}

std::vector<std::uint8_t> rocev2(std::uint8_t opcode, const std::vector<std::uint8_t> &rest)
{
	// BTH: opcode, SE/M/Pad/TVer, P_Key, FECN/BECN+rsvd, DestQP, AckReq, PSN
	std::vector<std::uint8_t> p = {opcode, 0x40, 0xff, 0xff, 0, 0, 0, 0x11,
				       0x80, 0, 0, 0x2a};
	p.insert(p.end(), rest.begin(), rest.end());
	p.insert(p.end(), 4, 0xee); // ICRC
	return udp("10.1.0.1", "10.1.0.2", 49152, 4791, p);
}

std::vector<std::uint8_t> non_ip(std::size_t len)
{
	auto f = eth("02:00:00:00:00:01", "02:00:00:00:00:02", 0x88b5);
	f.push_back(0xab);
	f.push_back(0xcd);
	return padded(std::move(f), len);
}

} // namespace frames

namespace {

constexpr const char *H1 = "02:00:00:00:00:01";
constexpr const char *H2 = "02:00:00:00:00:02";
using K = EntryKind;
using namespace frames;

evpn_mon_options base()
{
	evpn_mon_options o{};
	o.present = 1;
	return o;
}

evpn_mon_prefix pfx(const std::string &addr, std::uint8_t len)
{
	evpn_mon_prefix p{};
	auto ip = parse_ip(addr);
	if (!ip)
		throw std::invalid_argument("bad prefix");
	p.len = len;
	std::copy(ip->bytes.begin(), ip->bytes.end(), p.addr);
	return p;
}

evpn_mon_udf udf(std::uint8_t base, std::uint8_t off, std::uint16_t v, std::uint16_t m)
{
	return {base, off, v, m};
}

// One profile with one filter line.
evpn_mon_options with_line(const evpn_mon_filter &f)
{
	auto o = base();
	o.nfilters = 1;
	o.filters[0] = f;
	return o;
}

evpn_mon_filter preset(evpn_mon_preset p)
{
	evpn_mon_filter f{};
	evpn_mon_filter_preset(p, &f);
	return f;
}

session::Options O(const evpn_mon_options &o) { return session::Options(o); }

// Entry 1 (source H1) or entry 2 (destination H2) to the local server.
ProfileEntry src(const evpn_mon_options &o, const std::string &session = "s1",
		 const char *port = "srv", std::uint16_t hid = 7)
{
	return {{K::MirrorSource, 100, H1, "", hid, port, "", 0, 0}, session, O(o)};
}
ProfileEntry dst(const evpn_mon_options &o, const std::string &session = "s1")
{
	return {{K::MirrorDest, 100, H2, "", 7, "srv", "", 0, 0}, session, O(o)};
}
ProfileEntry vx_src(const evpn_mon_options &o, const std::string &session)
{
	return {{K::MirrorSource, 100, H1, "", 9, "", "10.9.9.2", 100, 9}, session, O(o)};
}

CopyExpect srv(std::uint64_t n = 1, std::size_t len = 0)
{
	return {"srv", "", n, n, len};
}

std::vector<std::uint8_t> udp_plain(std::uint16_t dport = 5000)
{
	return udp("10.1.0.1", "10.1.0.2", 40000, dport, std::vector<std::uint8_t>(32, 0x81));
}

std::vector<ProfileCase> make()
{
	std::vector<ProfileCase> c;
	auto copied = [&](std::string name, std::vector<ProfileEntry> e,
			  std::vector<std::uint8_t> f) {
		c.push_back({std::move(name), std::move(e), std::move(f), "h1", 1, {srv()},
			     {{0, 1}}});
	};
	auto filtered = [&](std::string name, std::vector<ProfileEntry> e,
			    std::vector<std::uint8_t> f) {
		c.push_back({std::move(name), std::move(e), std::move(f), "h1", 1, {},
			     {{0, 1, 1}}});
	};

	// Direction: entry 1 (source) = tx, entry 2 (destination) = rx.
	copied("profile without filters: copied like no profile", {src(base())}, udp_plain());
	auto rx = base();
	rx.direction = EVPN_MON_DIR_RX;
	auto tx = base();
	tx.direction = EVPN_MON_DIR_TX;
	filtered("direction rx: the host's own packets (entry 1) not copied", {src(rx)},
		 udp_plain());
	copied("direction rx: packets to the host (entry 2) copied", {dst(rx)}, udp_plain());
	filtered("direction tx: packets to the host (entry 2) not copied", {dst(tx)},
		 udp_plain());
	copied("direction tx: the host's own packets (entry 1) copied", {src(tx)}, udp_plain());

	// 5-tuple.
	evpn_mon_filter f{};
	f.family = 4;
	f.dst = pfx("10.1.0.0", 24);
	copied("IPv4 destination prefix /24 matches", {src(with_line(f))}, udp_plain());
	f = {};
	f.family = 4;
	f.src = pfx("10.2.0.0", 16);
	filtered("IPv4 source prefix of another net: filtered", {src(with_line(f))}, udp_plain());
	f = {};
	f.family = 4;
	f.src = pfx("10.1.0.1", 32);
	f.dst = pfx("10.1.0.2", 32);
	copied("IPv4 /32 source and destination match", {src(with_line(f))}, udp_plain());
	f.dst = pfx("10.1.0.3", 32);
	filtered("IPv4 /32 destination differs in the last bit: filtered",
		 {src(with_line(f))}, udp_plain());
	auto v6 = udp("fd00::1", "fd00::2", 40000, 5000, std::vector<std::uint8_t>(16, 1));
	f = {};
	f.family = 6;
	f.dst = pfx("fd00::", 64);
	copied("IPv6 destination prefix /64 matches", {src(with_line(f))}, v6);
	f.dst = pfx("fd01::", 16);
	filtered("IPv6 prefix of another net: filtered", {src(with_line(f))}, v6);
	f = {};
	f.family = 6;
	f.src = pfx("fd00::1", 128);
	copied("IPv6 /128 source matches", {src(with_line(f))}, v6);
	f = {};
	f.family = 4;
	filtered("family 4 line, IPv6 packet: filtered", {src(with_line(f))}, v6);
	f = {};
	f.proto = 17;
	f.dport_lo = 1000;
	f.dport_hi = 2000;
	copied("UDP destination port range 1000-2000: 1500 matches", {src(with_line(f))},
	       udp_plain(1500));
	copied("destination port range: the upper bound matches", {src(with_line(f))},
	       udp_plain(2000));
	filtered("destination port range: 2001 filtered", {src(with_line(f))}, udp_plain(2001));
	f = {};
	f.proto = 17;
	f.sport_lo = 40000;
	f.sport_hi = 40000;
	copied("UDP source port 40000 matches", {src(with_line(f))}, udp_plain());
	f = {};
	f.proto = 6;
	filtered("protocol TCP line, UDP packet: filtered", {src(with_line(f))}, udp_plain());
	{
		auto o = base();
		o.nfilters = 2;
		o.filters[0].proto = 6;
		o.filters[1].family = 4;
		o.filters[1].dst = pfx("10.1.0.2", 32);
		copied("two lines are ORed: the second matches", {src(o)}, udp_plain());
	}
	f = {};
	f.proto = 17;
	filtered("non-IP frame, line with a protocol: filtered", {src(with_line(f))},
		 non_ip(60));
	copied("non-IP frame, profile without lines: copied", {src(base())}, non_ip(60));
	f = {};
	f.nudf = 1;
	f.udf[0] = udf(EVPN_MON_UDF_L3, 0, 0xabcd, 0xffff);
	copied("non-IP frame, l3 UDF on the octets after the EtherType", {src(with_line(f))},
	       non_ip(60));

	// UDFs: RoCEv2 presets.
	const auto cnp = with_line(preset(EVPN_MON_PRESET_ROCEV2_CNP));
	const auto nak = with_line(preset(EVPN_MON_PRESET_ROCEV2_NAK));
	copied("rocev2-cnp: opcode 0x81 copied", {src(cnp)}, rocev2(0x81, std::vector<std::uint8_t>(16, 0)));
	filtered("rocev2-cnp: RC RDMA write (0x0a) filtered", {src(cnp)},
		 rocev2(0x0a, std::vector<std::uint8_t>(16, 0)));
	filtered("rocev2-cnp: RC ACK (0x11) filtered", {src(cnp)}, rocev2(0x11, {0x60, 0, 0, 1}));
	filtered("rocev2-cnp: plain UDP with 0x81 at l5 filtered (port)", {src(cnp)}, udp_plain());
	copied("rocev2-nak: ACK with syndrome 0x60 (PSN sequence error) copied", {src(nak)},
	       rocev2(0x11, {0x60, 0, 0, 1}));
	copied("rocev2-nak: syndrome 0x63 (remote operational error) copied", {src(nak)},
	       rocev2(0x11, {0x63, 0, 0, 1}));
	filtered("rocev2-nak: syndrome 0x00 (ACK) filtered", {src(nak)}, rocev2(0x11, {0x00, 0, 0, 1}));
	filtered("rocev2-nak: syndrome 0x20 (RNR NAK) filtered", {src(nak)},
		 rocev2(0x11, {0x20, 0, 0, 1}));
	filtered("rocev2-nak: CNP filtered", {src(nak)}, rocev2(0x81, {0x60, 0, 0, 1}));
	filtered("rocev2-nak: plain UDP filtered", {src(nak)}, udp_plain());
	f = {};
	f.nudf = 1;
	f.udf[0] = udf(EVPN_MON_UDF_L5, 126, 0, 0);
	filtered("UDF past the end of the frame: no match (even with mask 0)", {src(with_line(f))},
		 udp_plain());
	f = {};
	f.nudf = 1;
	f.udf[0] = udf(EVPN_MON_UDF_L4, 2, 5000, 0xffff);
	copied("l4 UDF: UDP destination port as a field", {src(with_line(f))}, udp_plain());

	// l5 of TCP is after the options: 12 octets of NOP/NOP/timestamp.
	const std::vector<std::uint8_t> ts = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
	auto get = tcp("10.1.0.1", "10.1.0.2", 40000, 80, ts, {'G', 'E', 'T', ' ', '/'});
	auto put = tcp("10.1.0.1", "10.1.0.2", 40000, 80, ts, {'P', 'U', 'T', ' ', '/'});
	f = {};
	f.proto = 6;
	f.nudf = 1;
	f.udf[0] = udf(EVPN_MON_UDF_L5, 0, 0x4745, 0xffff); // "GE"
	copied("TCP l5 UDF after 12 octets of options: \"GE\" matches", {src(with_line(f))}, get);
	filtered("TCP l5 UDF: \"PU\" filtered", {src(with_line(f))}, put);
	f.udf[0] = udf(EVPN_MON_UDF_L4, 20, 0x0101, 0xffff); // the NOPs
	copied("TCP l4 UDF at 20: the options (NOP NOP)", {src(with_line(f))}, put);
	f.udf[0] = udf(EVPN_MON_UDF_L5, 0, 0x0101, 0xffff);
	filtered("TCP l5 does not start at l4 + 20 when there are options", {src(with_line(f))},
		 put);

	// Sampler.
	auto s1 = base();
	s1.sample = 1;
	c.push_back({"sample 1-in-1: every packet", {src(s1)}, udp_plain(), "h1", 50,
		     {srv(50)}, {{0, 50}}});
	auto smax = base();
	smax.sample = EVPN_MON_SAMPLE_MAX;
	c.push_back({"sample 1-in-8388608: about never over 1000 packets", {src(smax)},
		     udp_plain(), "h1", 1000, {{"srv", "", 0, 2, 0}},
		     {{0, 1000, 0, 0, 0, 0, true}}});
	auto s4 = base();
	s4.sample = 4;
	c.push_back({"sample 1-in-4: 250 +- 80 of 1000 packets (6 sigma)", {src(s4)},
		     udp_plain(), "h1", 1000, {{"srv", "", 170, 330, 0}},
		     {{0, 1000, 0, 0, 0, 0, true}}});
	{
		auto o = with_line(preset(EVPN_MON_PRESET_ROCEV2_CNP));
		o.sample = 2;
		c.push_back({"filter before sampler: a filtered packet is not sampled out",
			     {src(o)}, udp_plain(), "h1", 20, {}, {{0, 20, 20, 0, 0}}});
	}

	// Policer.
	auto pps = base();
	pps.police_unit = EVPN_MON_POLICE_PPS;
	pps.police_rate = 1;
	pps.police_burst = 5;
	c.push_back({"police 1 pps burst 5: 5 of 8 back-to-back copies", {src(pps)}, udp_plain(),
		     "h1", 8, {srv(5)}, {{0, 8, 0, 0, 3}}});
	auto bps = base();
	bps.police_unit = EVPN_MON_POLICE_BPS;
	bps.police_rate = 8000; // 1000 octets/s
	bps.police_burst = 300;
	c.push_back({"police 8000 bps burst 300 octets: 3 copies of 100 octets",
		     {src(bps)}, padded(udp_plain(), 100), "h1", 5, {srv(3)}, {{0, 5, 0, 0, 2}}});
	bps.truncate = 64;
	c.push_back({"police bps counts the truncated copy: 4 copies of 64 octets",
		     {src(bps)}, padded(udp_plain(), 100), "h1", 5, {srv(4, 64)},
		     {{0, 5, 0, 0, 1}}});
	pps.police_burst = 3;
	c.push_back({"one (action, profile) pair is charged once per packet: entries 1 and 2 "
		     "of one session, burst 3",
		     {src(pps, "s1"), dst(pps, "s1")}, udp_plain(), "h1", 5, {srv(3)},
		     {{0, 5, 0, 0, 2}, {1, 5, 0, 0, 2}}});

	// Truncation (copy only; the harness checks the original unchanged).
	auto t64 = base();
	t64.truncate = 64;
	auto t128 = base();
	t128.truncate = 128;
	auto t1500 = base();
	t1500.truncate = 1500;
	auto big = padded(udp_plain(), 1514);
	const auto f60 = udp("10.1.0.1", "10.1.0.2", 40000, 5000, {});
	c.push_back({"truncate 64, 60-octet frame: whole", {src(t64)}, f60, "h1", 1,
		     {srv(1, 0)}, {{0, 1}}});
	c.push_back({"truncate 64, 64-octet frame: whole", {src(t64)}, padded(f60, 64),
		     "h1", 1, {srv(1, 0)}, {{0, 1}}});
	c.push_back({"truncate 64, 65-octet frame: 64", {src(t64)}, padded(f60, 65),
		     "h1", 1, {srv(1, 64)}, {{0, 1}}});
	c.push_back({"truncate 64, 200-octet frame: 64", {src(t64)}, padded(udp_plain(), 200),
		     "h1", 1, {srv(1, 64)}, {{0, 1}}});
	c.push_back({"truncate 128, 1514-octet frame: 128", {src(t128)}, big, "h1", 1,
		     {srv(1, 128)}, {{0, 1}}});
	c.push_back({"truncate 1500, 1514-octet frame: 1500", {src(t1500)}, big, "h1", 1,
		     {srv(1, 1500)}, {{0, 1}}});
	c.push_back({"truncate 1500, 1000-octet frame: whole", {src(t1500)},
		     padded(udp_plain(), 1000), "h1", 1, {srv(1, 0)}, {{0, 1}}});
	c.push_back({"truncate 128, IPv6 1514-octet frame: 128", {src(t128)},
		     padded(v6, 1514), "h1", 1, {srv(1, 128)}, {{0, 1}}});
	// VXLAN: 1400-octet frames (a copy of 1514 is 1564 octets: fragmented
	// on this 1500-octet underlay, docs/dataplane.md).
	const auto mid = padded(udp_plain(), 1400);
	c.push_back({"truncate 128, VXLAN copy: inner frame 128", {vx_src(t128, "s9")}, mid, "h1",
		     1, {{"", "10.9.9.2", 1, 1, 128}}, {{0, 1}}});
	c.push_back({"VXLAN copy without truncation: whole", {vx_src(base(), "s9")}, mid, "h1",
		     1, {{"", "10.9.9.2", 1, 1, 0}}, {{0, 1}}});

	// Several sessions, one server: one copy, the largest truncation.
	c.push_back({"two sessions, one server, truncate 64 and 128: one copy of 128",
		     {src(t64, "a"), src(t128, "b")}, big, "h1", 1, {srv(1, 128)},
		     {{0, 1}, {1, 1}}});
	c.push_back({"two sessions, one server, truncate 64 and whole: one whole copy",
		     {src(t64, "a"), src(base(), "b")}, big, "h1", 1, {srv(1, 0)},
		     {{0, 1}, {1, 1}}});
	{
		auto o = with_line(preset(EVPN_MON_PRESET_ROCEV2_CNP));
		o.truncate = 1500;
		c.push_back({"two sessions, one server: only selecting profiles set the length",
			     {src(o, "a"), src(t64, "b")}, big, "h1", 1, {srv(1, 64)},
			     {{0, 1, 1}, {1, 1}}});
		c.push_back({"two sessions, one server, both filtered: no copy",
			     {src(o, "a"), src(with_line(preset(EVPN_MON_PRESET_ROCEV2_NAK)), "b")},
			     big, "h1", 1, {}, {{0, 1, 1}, {1, 1, 1}}});
	}
	c.push_back({"two servers, own profiles: local copy 64, VXLAN copy whole",
		     {src(t64, "a"), vx_src(base(), "b")}, mid, "h1", 1,
		     {srv(1, 64), {"", "10.9.9.2", 1, 1, 0}}, {{0, 1}, {1, 1}}});
	c.push_back({"profile and no-profile session, one server: the whole frame wins",
		     {src(t64, "a"), {{K::MirrorSource, 100, H1, "", 8, "srv", "", 0, 0}, "b", {}}},
		     big, "h1", 1, {srv(1, 0)}, {{0, 1}, {1, 1}}});
	return c;
}

} // namespace

const std::vector<ProfileCase> &profile_cases()
{
	static const std::vector<ProfileCase> c = make();
	return c;
}

} // namespace evpnmon::dp::table

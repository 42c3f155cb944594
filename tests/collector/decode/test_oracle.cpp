// The decoders against tshark on copies built by scapy (vectors.py): every
// ERSPAN/GRE/VXLAN header field and the inner frame's fields must equal
// what Wireshark's dissectors read from the same octets.
#include "decode/decode.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

using namespace evpnmon::collector;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kFields = {
	"frame.number", "gre.sequence_number", "erspan.version", "erspan.vlan", "erspan.cos", "erspan.encap",
	"erspan.bso", "erspan.truncated", "erspan.spanid", "erspan.index", "erspan.timestamp", "erspan.sgt",
	"erspan.p", "erspan.ft", "erspan.hw", "erspan.direction", "erspan.gra", "erspan.o", "erspan.platid",
	"erspan.pid3.port_index", "erspan.pid3.timestamp", "erspan.pid7.timestamp", "vxlan.vni", "vxlan.gbp",
	"eth.src", "vlan.id", "ip.src", "ipv6.src", "ip.proto", "ipv6.nxt", "tcp.srcport", "tcp.dstport",
	"tcp.flags", "tcp.seq_raw", "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_perm",
	"tcp.options.timestamp.tsval", "udp.dstport", "infiniband.bth.opcode", "infiniband.bth.destqp",
	"infiniband.bth.psn", "infiniband.aeth.syndrome", "infiniband.aeth.msn",
};

fs::path source_dir()
{
	if (const char *s = std::getenv("EVPNMON_SOURCE_DIR"))
		return s;
	return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

std::string run(const std::string &cmd, int &status)
{
	std::string out;
	FILE *p = popen(cmd.c_str(), "r");
	if (!p) {
		status = -1;
		return out;
	}
	char buf[65536];
	std::size_t n;
	while ((n = fread(buf, 1, sizeof buf, p)) > 0)
		out.append(buf, n);
	status = pclose(p);
	return out;
}

std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> v;
	std::string cur;
	for (char c : s) {
		if (c == sep) {
			v.push_back(cur);
			cur.clear();
		} else {
			cur += c;
		}
	}
	v.push_back(cur);
	return v;
}

std::uint64_t num(const std::string &s)
{
	if (s == "True")
		return 1;
	if (s == "False")
		return 0;
	return std::strtoull(s.c_str(), nullptr, 0);
}

std::string mac(const std::array<std::uint8_t, 6> &m)
{
	char b[18];
	std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return b;
}

// Packets of a little-endian microsecond pcap (what scapy writes).
std::vector<std::vector<std::uint8_t>> read_pcap(const fs::path &p)
{
	std::ifstream in(p, std::ios::binary);
	std::vector<std::uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	std::vector<std::vector<std::uint8_t>> pkts;
	auto le32 = [&](std::size_t at) {
		return std::uint32_t{b[at]} | std::uint32_t{b[at + 1]} << 8 | std::uint32_t{b[at + 2]} << 16 |
		       std::uint32_t{b[at + 3]} << 24;
	};
	REQUIRE(b.size() >= 24);
	REQUIRE(le32(0) == 0xa1b2c3d4u);
	std::size_t at = 24;
	while (at + 16 <= b.size()) {
		const std::uint32_t caplen = le32(at + 8);
		at += 16;
		REQUIRE(at + caplen <= b.size());
		pkts.emplace_back(b.begin() + static_cast<std::ptrdiff_t>(at),
				  b.begin() + static_cast<std::ptrdiff_t>(at + caplen));
		at += caplen;
	}
	return pkts;
}

} // namespace

TEST_CASE("decoders agree with tshark on scapy-built copies")
{
	char tmpl[] = "/tmp/evpnmon-decode-XXXXXX";
	REQUIRE(mkdtemp(tmpl) != nullptr);
	const fs::path dir = tmpl;
	const fs::path pcap = dir / "vectors.pcap";
	const fs::path script = source_dir() / "tests/collector/decode/vectors.py";
	constexpr int kCount = 600;
	int st = 0;
	run("/usr/bin/python3 " + script.string() + " " + pcap.string() + " " + std::to_string(kCount) + " 2>&1", st);
	REQUIRE_MESSAGE(st == 0, "vectors.py failed (python3-scapy installed?)");

	std::string cmd = "tshark -n -r " + pcap.string() + " -T fields -E occurrence=l -E separator='|'";
	for (const auto &f : kFields)
		cmd += " -e " + f;
	const std::string out = run(cmd + " 2>/dev/null", st);
	REQUIRE_MESSAGE(st == 0, "tshark failed");
	std::vector<std::vector<std::string>> rows;
	std::istringstream lines(out);
	for (std::string line; std::getline(lines, line);)
		rows.push_back(split(line, '|'));
	const auto pkts = read_pcap(pcap);
	REQUIRE(pkts.size() == kCount);
	REQUIRE(rows.size() == pkts.size());

	int seen_iii = 0, seen_ii = 0, seen_i = 0, seen_vxlan = 0, seen_bth = 0, seen_aeth = 0, seen_tcp_opts = 0,
	    seen_v6 = 0;
	for (std::size_t i = 0; i < pkts.size(); ++i) {
		const auto &t = rows[i];
		REQUIRE(t.size() == kFields.size());
		auto F = [&](const char *name) -> const std::string & {
			for (std::size_t k = 0; k < kFields.size(); ++k)
				if (kFields[k] == name)
					return t[k];
			FAIL("no field ", name);
			return t[0];
		};
		CAPTURE(i + 1);
		const auto &p = pkts[i];
		Copy c;
		// outer: Ethernet + IPv4 (20 octets) + GRE or UDP/4789
		const std::span<const std::uint8_t> bytes(p);
		if (p[23] == 47) {
			REQUIRE(decode_gre_ether(bytes, c) == DecodeError::None);
		} else {
			std::uint32_t src;
			std::memcpy(&src, p.data() + 26, 4);
			REQUIRE(decode_vxlan(bytes.subspan(14 + 20 + 8), IpAddr::v4(src), c) == DecodeError::None);
			CHECK(c.vni == num(F("vxlan.vni")));
			CHECK(c.has_gbp);
			CHECK(c.gbp == num(F("vxlan.gbp")));
			++seen_vxlan;
		}
		CHECK(c.has_seq == !F("gre.sequence_number").empty());
		if (c.has_seq)
			CHECK(c.seq == num(F("gre.sequence_number")));
		const std::string &ver = F("erspan.version");
		switch (c.encap) {
		case Encap::ErspanI:
		case Encap::VxlanGbp:
			CHECK(ver.empty());
			seen_i += c.encap == Encap::ErspanI;
			break;
		case Encap::ErspanII:
			CHECK(ver == "1");
			CHECK(c.en == num(F("erspan.encap")));
			CHECK(c.index == num(F("erspan.index")));
			++seen_ii;
			break;
		case Encap::ErspanIII:
			CHECK(ver == "2");
			CHECK(c.bso == num(F("erspan.bso")));
			CHECK(c.ts_low == num(F("erspan.timestamp")));
			CHECK(c.sgt == num(F("erspan.sgt")));
			CHECK(c.p == (num(F("erspan.p")) != 0));
			CHECK(c.ft == num(F("erspan.ft")));
			CHECK(c.hw_id == num(F("erspan.hw")));
			CHECK(c.direction == (num(F("erspan.direction")) ? Direction::Outbound : Direction::Inbound));
			CHECK(c.gra == num(F("erspan.gra")));
			CHECK(c.has_subheader == (num(F("erspan.o")) != 0));
			if (c.has_subheader) {
				CHECK(c.platform_id == num(F("erspan.platid")));
				if (c.platform_id == 3) {
					CHECK(c.index == num(F("erspan.pid3.port_index")));
					CHECK(c.ts_high == num(F("erspan.pid3.timestamp")));
				}
				if (c.platform_id == 7)
					CHECK(c.ts_high == num(F("erspan.pid7.timestamp")));
				CHECK(c.has_ts_high == (c.platform_id == 3 || c.platform_id == 7));
			}
			++seen_iii;
			break;
		default:
			FAIL("unexpected encap");
		}
		if (c.encap == Encap::ErspanII || c.encap == Encap::ErspanIII) {
			CHECK(c.vlan == num(F("erspan.vlan")));
			CHECK(c.cos == num(F("erspan.cos")));
			CHECK(c.truncated == (num(F("erspan.truncated")) != 0));
			CHECK(c.span_id == num(F("erspan.spanid")));
		}

		Frame fr;
		REQUIRE(decode_frame(c.frame, fr) == DecodeError::None);
		CHECK(mac(fr.src_mac) == F("eth.src"));
		CHECK(fr.vlan == num(F("vlan.id")));
		if (!F("ipv6.src").empty()) {
			REQUIRE(fr.has_ip);
			CHECK(fr.src_ip.v6);
			CHECK(fr.src_ip.to_string() == F("ipv6.src"));
			CHECK(fr.ip_proto == num(F("ipv6.nxt")));
			++seen_v6;
		} else if (fr.has_ip) {
			CHECK(fr.src_ip.to_string() == F("ip.src"));
			CHECK(fr.ip_proto == num(F("ip.proto")));
		} else {
			CHECK(fr.ethertype == 0x0806);
		}
		CHECK(fr.has_tcp == !F("tcp.srcport").empty());
		if (fr.has_tcp) {
			CHECK(fr.sport == num(F("tcp.srcport")));
			CHECK(fr.dport == num(F("tcp.dstport")));
			CHECK(fr.tcp.flags == num(F("tcp.flags")));
			CHECK(fr.tcp.seq == num(F("tcp.seq_raw")));
			CHECK(fr.tcp.mss == num(F("tcp.options.mss_val")));
			CHECK(fr.tcp.window_scale ==
			      (F("tcp.options.wscale.shift").empty() ? -1 : static_cast<int>(num(F("tcp.options.wscale.shift")))));
			CHECK(fr.tcp.sack_permitted == !F("tcp.options.sack_perm").empty());
			CHECK(fr.tcp.timestamps == !F("tcp.options.timestamp.tsval").empty());
			seen_tcp_opts += fr.tcp.mss != 0;
		}
		if (fr.ip_proto == 17 && fr.has_ports)
			CHECK(fr.dport == num(F("udp.dstport")));
		CHECK(fr.has_bth == !F("infiniband.bth.opcode").empty());
		if (fr.has_bth) {
			CHECK(fr.bth.opcode == num(F("infiniband.bth.opcode")));
			CHECK(fr.bth.dest_qp == num(F("infiniband.bth.destqp")));
			CHECK(fr.bth.psn == num(F("infiniband.bth.psn")));
			CHECK(fr.bth.has_aeth == !F("infiniband.aeth.syndrome").empty());
			if (fr.bth.has_aeth) {
				CHECK(fr.bth.syndrome == num(F("infiniband.aeth.syndrome")));
				CHECK(fr.bth.msn == num(F("infiniband.aeth.msn")));
				++seen_aeth;
			}
			++seen_bth;
		}
		CHECK(fr.original_len == fr.captured_len);
	}
	// the vectors cover every kind (a generator change cannot hollow the test)
	CHECK(seen_iii > 100);
	CHECK(seen_ii > 20);
	CHECK(seen_i > 20);
	CHECK(seen_vxlan > 20);
	CHECK(seen_bth > 50);
	CHECK(seen_aeth > 10);
	CHECK(seen_tcp_opts > 20);
	CHECK(seen_v6 > 20);
	fs::remove_all(dir);
}

#include "support.hpp"

#include <algorithm>
#include <cerrno>

using namespace core_test;

namespace {

struct Rig {
	TempDir tmp;
	pcapng::PosixIo io;
	std::vector<v1::Envelope> records;
	std::unique_ptr<Collector> c;

	explicit Rig(std::vector<SessionSpec> sessions = {}, bool records_on = true,
		     std::size_t max_sessions = 4096, std::size_t max_sources_total = 65536)
	{
		Collector::Config cfg;
		cfg.sessions = std::move(sessions);
		cfg.dir = tmp.path;
		cfg.records = records_on;
		cfg.max_sessions = max_sessions;
		cfg.max_sources_total = max_sources_total;
		cfg.port_interface = "eth9";
		c = std::make_unique<Collector>(std::move(cfg), io,
						[this](v1::Envelope &&e) { records.push_back(std::move(e)); });
	}
	PcapngFile only_file(const std::string &session)
	{
		const auto files = files_of(tmp.path / session);
		REQUIRE(files.size() == 1);
		return read_pcapng(files[0]);
	}
	const v1::SessionStats *stats(const std::string &name, std::vector<v1::SessionStats> &all)
	{
		v1::CollectorStatus st;
		c->snapshot(all, st);
		for (const auto &s : all)
			if (s.session().name() == name)
				return &s;
		return nullptr;
	}
};

SessionSpec spec(const std::string &text)
{
	std::string err;
	auto s = parse_session_spec(text, err);
	REQUIRE_MESSAGE(s, err);
	return *s;
}

const IpAddr vtep1 = ip4(10, 0, 0, 1), vtep2 = ip4(10, 0, 0, 2);
const IpAddr host_ip = ip4(10, 1, 0, 11), peer_ip = ip4(10, 1, 0, 22);

} // namespace

TEST_CASE("collector: ERSPAN sessions by span id, one interface and one sequence space per source")
{
	Rig r({spec("web=span:7")});
	const Bytes f = tcp_frame(kPeer, kHost, host_ip, peer_ip, 40000, 80, 0x10, 1, 1);
	// source 1: 100 101 [102 103 lost] 104; source 2: 500 501 (its own space)
	std::uint64_t now = t0;
	for (std::uint32_t s : {100u, 101u, 104u})
		r.c->on_copy(erspan3(vtep1, 7, s, f), now += 1000);
	for (std::uint32_t s : {500u, 501u})
		r.c->on_copy(erspan3(vtep2, 7, s, f), now += 1000);
	r.c->on_copy(erspan3(vtep1, 7, 105, f), now += 1000);
	r.c->on_copy(erspan3(vtep2, 7, 503, f), now += 1000); // 502 lost
	r.c->on_copy(erspan3(vtep1, 9, 1, f), now += 1000);   // unnamed span 9
	r.c->shutdown(now + 1000);

	std::vector<v1::SessionStats> all;
	const auto *web = r.stats("web", all);
	REQUIRE(web);
	CHECK(web->session().span_id() == 7);
	CHECK(web->copies() == 7);
	CHECK(web->bytes() == 7 * f.size());
	CHECK(web->losses() == 3);
	CHECK(web->files_written() == 1);
	REQUIRE(web->sources_size() == 2);
	for (const auto &src : web->sources()) {
		if (src.source() == "10.0.0.1") {
			CHECK(src.copies() == 4);
			CHECK(src.losses() == 2);
			CHECK(src.last_seq() == 105);
		} else {
			CHECK(src.source() == "10.0.0.2");
			CHECK(src.copies() == 3);
			CHECK(src.losses() == 1);
			CHECK(src.last_seq() == 503);
		}
	}
	CHECK(r.stats("span-9", all) != nullptr);
	CHECK(r.c->session_count() == 2);

	const auto file = r.only_file("web");
	REQUIRE(file.idbs.size() == 2);
	CHECK(file.idbs[0].name == "erspan:10.0.0.1");
	CHECK(file.idbs[1].name == "erspan:10.0.0.2");
	CHECK(file.idbs[0].description.find("7") != std::string::npos);
	REQUIRE(file.epbs.size() == 7);
	// the gap is on the next packet of that source's interface
	std::vector<std::uint64_t> drops;
	for (const auto &e : file.epbs)
		drops.push_back(e.has_dropcount ? e.dropcount : 0);
	CHECK(drops == std::vector<std::uint64_t>{0, 0, 2, 0, 0, 0, 1});
	CHECK(file.epbs[2].interface == 0);
	CHECK(file.epbs[6].interface == 1);
	// and in the ISBs at close
	REQUIRE(file.isbs.size() == 2);
	for (const auto &isb : file.isbs) {
		CHECK(isb.has_ifdrop);
		CHECK(isb.ifdrop == (isb.interface == 0 ? 2u : 1u));
	}
	CHECK(files_of(r.tmp.path / "span-9").size() == 1);
}

TEST_CASE("collector: derived names for ERSPAN I, unnamed spans and VXLAN (VNI, HOST ID); a taken name gets a suffix")
{
	Rig r({spec("span-8=span:7")});
	const Bytes f = arp_frame(kPeer, kHost);
	Copy c1;
	c1.encap = Encap::ErspanI;
	c1.source = vtep1;
	c1.frame = f;
	r.c->on_copy(c1, t0);
	r.c->on_copy(erspan3(vtep1, 8, 1, f), t0 + 1);
	Copy v;
	v.encap = Encap::VxlanGbp;
	v.source = vtep2;
	v.vni = 1000;
	v.has_gbp = true;
	v.gbp = 21;
	v.frame = f;
	r.c->on_copy(v, t0 + 2);
	v.has_gbp = false; // plain VXLAN: HOST ID 0
	r.c->on_copy(v, t0 + 3);

	std::vector<v1::SessionStats> all;
	v1::CollectorStatus st;
	r.c->snapshot(all, st);
	std::vector<std::string> names;
	for (const auto &s : all)
		names.push_back(s.session().name());
	std::sort(names.begin(), names.end());
	CHECK(names == std::vector<std::string>{"erspan-i", "span-8", "span-8_2", "vni-1000-host-0",
						 "vni-1000-host-21"});
	const auto *vx = r.stats("vni-1000-host-21", all);
	REQUIRE(vx);
	CHECK(vx->session().vni() == 1000);
	CHECK(vx->session().host_id() == 21);
	CHECK(vx->losses() == 0);
	r.c->shutdown(t0 + 10);
	const auto file = r.only_file("vni-1000-host-21");
	REQUIRE(file.idbs.size() == 1);
	CHECK(file.idbs[0].name == "vxlan:10.0.0.2");
	CHECK(r.only_file("erspan-i").epbs.size() == 1);
}

TEST_CASE("collector: packet time is the rebuilt ERSPAN III time, else the receive time")
{
	Rig r;
	const Bytes f = arp_frame(kPeer, kHost);
	const std::uint64_t rx = t0 + 5 * sec;
	const std::uint64_t sw = t0 + 123456700; // switch time, 100-ns units
	const std::uint64_t units = sw / 100;
	Copy c = erspan3(vtep1, 3, 1, f);
	c.gra = 1;
	c.has_subheader = true;
	c.platform_id = 3;
	c.has_ts_high = true;
	c.ts_high = static_cast<std::uint32_t>(units >> 32);
	c.ts_low = static_cast<std::uint32_t>(units);
	r.c->on_copy(c, rx);
	Copy ii = c;
	ii.encap = Encap::ErspanII;
	ii.seq = 2;
	ii.has_subheader = ii.has_ts_high = false;
	ii.gra = 0;
	ii.ts_low = 0;
	r.c->on_copy(ii, rx + 1);
	r.c->shutdown(rx + 2);
	const auto file = r.only_file("span-3");
	REQUIRE(file.epbs.size() == 2);
	CHECK(file.epbs[0].ts == sw);
	CHECK(file.epbs[1].ts == rx + 1);
}

TEST_CASE("collector: direction flags, truncated copies with and without a known length")
{
	Rig r;
	// a cut TCP copy: the IP length says 1000 more octets
	const Bytes cut = tcp_frame(kPeer, kHost, host_ip, peer_ip, 1, 2, 0x10, 1, 1, 0, 1000);
	Copy a = erspan3(vtep1, 4, 1, cut);
	a.truncated = true;
	a.direction = Direction::Inbound;
	r.c->on_copy(a, t0);
	// T set on a frame whose length nothing tells
	const Bytes arp = arp_frame(kPeer, kHost);
	Copy b = erspan3(vtep1, 4, 2, arp);
	b.truncated = true;
	b.direction = Direction::Outbound;
	r.c->on_copy(b, t0 + 1);
	// whole
	Copy w = erspan3(vtep1, 4, 3, arp);
	r.c->on_copy(w, t0 + 2);
	r.c->shutdown(t0 + 3);

	std::vector<v1::SessionStats> all;
	const auto *s = r.stats("span-4", all);
	REQUIRE(s);
	CHECK(s->truncated() == 2);
	const auto file = r.only_file("span-4");
	REQUIRE(file.epbs.size() == 3);
	CHECK(file.epbs[0].caplen == cut.size());
	CHECK(file.epbs[0].origlen == cut.size() + 1000);
	CHECK(file.epbs[0].comment.empty());
	CHECK((file.epbs[0].flags & 3) == 1);
	CHECK(file.epbs[1].origlen == arp.size());
	CHECK(file.epbs[1].comment == "truncated");
	CHECK((file.epbs[1].flags & 3) == 2);
	CHECK((file.epbs[2].flags & 3) == 0);
	CHECK(file.epbs[2].comment.empty());
}

TEST_CASE("collector: port frames map to host sessions by MAC or IP, with the direction")
{
	Rig r({spec("h-mac=host:02:00:00:00:00:11"), spec("h-ip=host:,10.1.0.22")});
	const Bytes from_host = tcp_frame(kPeer, kHost, host_ip, peer_ip, 40000, 80, 0x02, 1, 0);
	const Bytes to_host = tcp_frame(kHost, kPeer, peer_ip, host_ip, 80, 40000, 0x12, 9, 2);
	const Mac other{0x02, 0, 0, 0, 0, 0x33};
	const Bytes stranger = tcp_frame(kPeer, other, ip4(10, 1, 0, 33), ip4(10, 1, 0, 44), 1, 2, 0x10, 1, 1);
	r.c->on_port_frame(from_host, t0);
	r.c->on_port_frame(to_host, t0 + 1000);
	r.c->on_port_frame(stranger, t0 + 2000);
	r.c->shutdown(t0 + 3000);
	CHECK(r.c->unknown_session() == 1);

	const auto mac = r.only_file("h-mac");
	REQUIRE(mac.idbs.size() == 1);
	CHECK(mac.idbs[0].name == "eth9");
	REQUIRE(mac.epbs.size() == 2);
	CHECK((mac.epbs[0].flags & 3) == 1); // from the host: the switch port received it
	CHECK((mac.epbs[1].flags & 3) == 2);
	CHECK(mac.epbs[0].ts == t0);
	// 10.1.0.22 is the peer: its view is the other way round
	const auto ip = r.only_file("h-ip");
	REQUIRE(ip.epbs.size() == 2);
	CHECK((ip.epbs[0].flags & 3) == 2);
	CHECK((ip.epbs[1].flags & 3) == 1);

	// one record stream per session, each naming its session
	int of_mac = 0, of_ip = 0;
	for (const auto &e : r.records)
		if (e.has_tcp()) {
			of_mac += e.tcp().session().name() == "h-mac";
			of_ip += e.tcp().session().name() == "h-ip";
		}
	CHECK(of_mac >= 1);
	CHECK(of_ip >= 1);
}

TEST_CASE("collector: TCP records name the session, are counted per session, and stop with records off")
{
	for (bool on : {true, false}) {
		CAPTURE(on);
		Rig r({spec("web=span:7")}, on);
		std::uint32_t seq = 1;
		// type II: no timestamp, the packet time is the receive time
		auto send = [&](const Bytes &f, std::uint64_t t) {
			Copy c = erspan3(vtep1, 7, seq++, f);
			c.encap = Encap::ErspanII;
			r.c->on_copy(c, t);
		};
		send(tcp_frame(kPeer, kHost, host_ip, peer_ip, 40000, 80, 0x02, 100, 0), t0);
		send(tcp_frame(kHost, kPeer, peer_ip, host_ip, 80, 40000, 0x12, 500, 101), t0 + 1000000);
		send(tcp_frame(kPeer, kHost, host_ip, peer_ip, 40000, 80, 0x10, 101, 501), t0 + 3000000);
		if (!on) {
			r.c->shutdown(t0 + sec);
			CHECK(r.records.empty());
			std::vector<v1::SessionStats> all;
			CHECK(r.stats("web", all)->tcp_records() == 0);
			continue;
		}
		REQUIRE(r.records.size() == 1);
		const auto &h = r.records[0].tcp();
		CHECK(h.event() == v1::TcpRecord::HANDSHAKE);
		CHECK(h.outcome() == v1::TcpRecord::ESTABLISHED);
		CHECK(h.session().name() == "web");
		CHECK(h.session().span_id() == 7);
		CHECK(h.session().source() == "10.0.0.1");
		CHECK(h.handshake_ns() == 3000000);
		// shutdown closes it (SHUTDOWN)
		r.c->shutdown(t0 + sec);
		REQUIRE(r.records.size() == 2);
		CHECK(r.records[1].tcp().event() == v1::TcpRecord::CLOSE);
		CHECK(r.records[1].tcp().close_reason() == v1::TcpRecord::SHUTDOWN);
		std::vector<v1::SessionStats> all;
		CHECK(r.stats("web", all)->tcp_records() == 2);
		// nothing after shutdown
		send(tcp_frame(kPeer, kHost, host_ip, peer_ip, 40001, 80, 0x02, 100, 0), t0 + 2 * sec);
		CHECK(r.records.size() == 2);
	}
}

TEST_CASE("collector: decode errors by reason, bounded session table")
{
	Rig r({}, true, 2);
	r.c->on_decode_error(DecodeError::GreProtocol);
	r.c->on_decode_error(DecodeError::GreProtocol);
	r.c->on_decode_error(DecodeError::Truncated);
	const Bytes f = arp_frame(kPeer, kHost);
	for (std::uint16_t span = 1; span <= 5; ++span)
		r.c->on_copy(erspan3(vtep1, span, 1, f), t0 + span);
	// an inner frame that contradicts itself is written and counted
	Bytes bad = tcp_frame(kPeer, kHost, host_ip, peer_ip, 1, 2, 0x10, 1, 1);
	bad[14] = 0x41; // IHL 1
	r.c->on_copy(erspan3(vtep1, 1, 2, bad), t0 + 10);

	std::vector<v1::SessionStats> all;
	v1::CollectorStatus st;
	r.c->snapshot(all, st);
	CHECK(all.size() == 2);
	CHECK(st.unknown_session() == 3);
	CHECK(st.decode_errors_by_reason().at("gre_protocol") == 2);
	CHECK(st.decode_errors_by_reason().at("truncated") == 1);
	CHECK(st.decode_errors_by_reason().at("bad_ip") == 1);
	CHECK(st.decode_errors() == 4);
	CHECK(st.decode_errors_by_reason().size() == kDecodeErrorCount - 1);
	CHECK_FALSE(st.disk_full());
	r.c->shutdown(t0 + 20);
	CHECK(r.only_file("span-1").epbs.size() == 2);
}

TEST_CASE("collector: forged sources share one budget across sessions")
{
	Rig r({}, true, 4096, 5);
	const Bytes f = arp_frame(kPeer, kHost);
	// 3 sources in each of 3 sessions: the budget of 5 takes the first 5
	for (std::uint16_t span = 1; span <= 3; ++span)
		for (std::uint8_t host = 1; host <= 3; ++host)
			r.c->on_copy(erspan3(ip4(10, 0, 0, host), span, 1, f), t0 + span * 10 + host);
	// a known source is still taken once the budget is spent
	r.c->on_copy(erspan3(ip4(10, 0, 0, 1), 1, 2, f), t0 + 100);
	std::vector<v1::SessionStats> all;
	v1::CollectorStatus st;
	r.c->snapshot(all, st);
	std::size_t sources = 0;
	std::uint64_t copies = 0;
	for (const auto &s : all) {
		sources += static_cast<std::size_t>(s.sources_size());
		copies += s.copies();
	}
	CHECK(sources == 5);
	CHECK(copies == 6);
	CHECK(st.unknown_session() == 4);
}

namespace {
// Every write fails with ENOSPC: the disk is full from the start.
class FullIo : public pcapng::PosixIo {
public:
	std::int64_t write(int, std::span<const std::uint8_t>) override { return -ENOSPC; }
	int changes = 0;

protected:
	void on_disk_full_change(bool, std::string_view) override { ++changes; }
};
} // namespace

TEST_CASE("collector: a full disk stops the files, not the counters and the records")
{
	TempDir tmp;
	FullIo io;
	std::vector<v1::Envelope> records;
	Collector::Config cfg;
	cfg.dir = tmp.path;
	Collector c(cfg, io, [&](v1::Envelope &&e) { records.push_back(std::move(e)); });
	std::uint32_t seq = 1;
	auto send = [&](const Bytes &f, std::uint64_t t) {
		Copy x = erspan3(vtep1, 7, seq++, f);
		x.encap = Encap::ErspanII;
		c.on_copy(x, t);
		c.tick(t); // flushes: the write fails here at the latest
	};
	send(tcp_frame(kPeer, kHost, host_ip, peer_ip, 40000, 80, 0x02, 100, 0), t0);
	send(tcp_frame(kHost, kPeer, peer_ip, host_ip, 80, 40000, 0x12, 500, 101), t0 + 1000000);
	send(tcp_frame(kPeer, kHost, host_ip, peer_ip, 40000, 80, 0x10, 101, 501), t0 + 2000000);
	std::vector<v1::SessionStats> all;
	v1::CollectorStatus st;
	c.snapshot(all, st);
	CHECK(st.disk_full());
	CHECK(io.changes == 1);
	REQUIRE(all.size() == 1);
	CHECK(all[0].copies() == 3);
	CHECK(all[0].write_errors() >= 1);
	REQUIRE(records.size() == 1);
	CHECK(records[0].tcp().outcome() == v1::TcpRecord::ESTABLISHED);
	c.shutdown(t0 + sec);
	CHECK(records.size() == 2);
}

#include <doctest/doctest.h>

#include "core/sessions.hpp"

using namespace evpnmon::collector;

TEST_CASE("sessions: names are sanitized and derived names are stable")
{
	CHECK(sanitize_name("web-1.a_b") == "web-1.a_b");
	CHECK(sanitize_name("a/b c:d") == "a_b_c_d");
	CHECK(sanitize_name("../x") == ".._x");
	CHECK(sanitize_name("..") == "_");
	CHECK(sanitize_name(".") == "_");
	CHECK(sanitize_name("") == "_");
	CHECK(span_session_name(7) == "span-7");
	CHECK(erspan_i_session_name() == "erspan-i");
	CHECK(vxlan_session_name(1000, 21) == "vni-1000-host-21");
}

TEST_CASE("sessions: --session definitions")
{
	std::string err;
	auto s = parse_session_spec("web=span:7", err);
	REQUIRE(s);
	CHECK(s->name == "web");
	CHECK(s->kind == SessionSpec::Kind::Span);
	CHECK(s->span_id == 7);

	s = parse_session_spec("db/1=vxlan:1000:21", err);
	REQUIRE(s);
	CHECK(s->name == "db_1");
	CHECK(s->kind == SessionSpec::Kind::Vxlan);
	CHECK(s->vni == 1000);
	CHECK(s->host_id == 21);

	s = parse_session_spec("h=host:02:00:00:00:00:11,10.1.0.11", err);
	REQUIRE(s);
	CHECK(s->kind == SessionSpec::Kind::Host);
	CHECK(s->has_mac);
	CHECK(s->mac[5] == 0x11);
	CHECK(s->has_ip);
	CHECK(s->ip.to_string() == "10.1.0.11");

	s = parse_session_spec("h6=host:,2001:db8::1", err);
	REQUIRE(s);
	CHECK_FALSE(s->has_mac);
	CHECK(s->ip.v6);

	s = parse_session_spec("m=host:02-00-00-00-00-aa", err);
	REQUIRE(s);
	CHECK(s->mac[5] == 0xaa);
	CHECK_FALSE(s->has_ip);

	for (const char *bad : {"span:7", "=span:7", "x=span:1024", "x=span:", "x=span:-1", "x=vxlan:1000",
				"x=vxlan:16777216:1", "x=vxlan:1:65536", "x=host:", "x=host:02:00:00:00:00",
				"x=host:02:00:00:00:00:11,10.1.0", "x=port:eth0", "x=span:7x"}) {
		CAPTURE(bad);
		err.clear();
		CHECK_FALSE(parse_session_spec(bad, err));
		CHECK_FALSE(err.empty());
	}
}

TEST_CASE("sessions: evpnmon-ctl --json sessions")
{
	const char *doc = R"({"evpn-monitor:fpm-consumer": {"sessions": {"session": [
	  {"vni": 100, "host-mac": "02:00:00:00:00:11", "host-ip": "10.1.0.11", "host-id": 21,
	   "session-id": "10.0.0.1/100/21/02:00:00:00:00:11/10.1.0.11", "status": "active"},
	  {"vni": 100, "host-ip": "10.1.0.12", "collector-id": 7},
	  {"vni": 200, "host-id": 3}
	]}}})";
	const auto v = sessions_from_state_json(doc);
	REQUIRE(v.size() == 2); // the third has no host
	CHECK(v[0].kind == SessionSpec::Kind::Host);
	CHECK(v[0].name == "10.0.0.1_100_21_02_00_00_00_00_11_10.1.0.11");
	CHECK(v[0].vni == 100);
	CHECK(v[0].has_mac);
	CHECK(v[0].has_ip);
	CHECK(v[1].name == "vni-100-10.1.0.12");
	CHECK_FALSE(v[1].has_mac);

	CHECK(sessions_from_state_json(R"({"evpn-monitor:fpm-consumer": {}})").empty());
	CHECK_THROWS(sessions_from_state_json("not json"));
	CHECK_THROWS(sessions_from_state_json(R"({"other": 1})"));
	CHECK_THROWS(sessions_from_state_json(R"([1,2])"));
}

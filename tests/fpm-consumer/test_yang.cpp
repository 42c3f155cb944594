// The state JSON (what evpnmon-ctl --json prints) validates against
// yang/evpn-monitor.yang with libyang; broken documents do not.
#include "core/state_json.hpp"
#include "fabric.hpp"

#include <doctest/doctest.h>
#include <libyang/libyang.h>

#include <memory>
#include <set>

using namespace evpnmon;
using namespace evpnmon::test;

#ifndef EVPNMON_YANG_DIR
#error EVPNMON_YANG_DIR must point at yang/
#endif

namespace {

struct Ctx {
	ly_ctx *ctx = nullptr;
	Ctx()
	{
		ly_log_options(LY_LOSTORE);
		REQUIRE(ly_ctx_new(EVPNMON_YANG_DIR, 0, &ctx) == LY_SUCCESS);
		REQUIRE(ly_ctx_load_module(ctx, "evpn-monitor", nullptr, nullptr) != nullptr);
	}
	~Ctx() { ly_ctx_destroy(ctx); }
	// Returns the libyang error text, empty when valid.
	std::string validate(const std::string &json)
	{
		lyd_node *tree = nullptr;
		const LY_ERR rc = lyd_parse_data_mem(ctx, json.c_str(), LYD_JSON, LYD_PARSE_STRICT,
						     LYD_VALIDATE_PRESENT, &tree);
		std::string err;
		if (rc != LY_SUCCESS) {
			const ly_err_item *e = ly_err_first(ctx);
			err = e && e->msg ? e->msg : "invalid";
			ly_err_clean(ctx, nullptr);
		}
		lyd_free_all(tree);
		return err;
	}
};

nlohmann::json state_of(Vtep &v)
{
	return nlohmann::json{{"evpn-monitor:fpm-consumer",
			       consumer::engine_state_json(*v.engine, &v.dataplane, {{"extra", 7}})}};
}

const Mac VM210{2, 0, 0, 0, 2, 0x10}, SERV21{2, 0, 0, 0, 0, 0x21}, SERV22{2, 0, 0, 0, 0, 0x22};

} // namespace

TEST_CASE("state JSON of every role validates against the YANG module")
{
	Ctx y;
	Fabric f({{"A", ip4(10, 0, 0, 1)}, {"B", ip4(10, 0, 0, 2)}, {"C", ip4(10, 0, 0, 3)}});
	f.place(VM210, "A", 11);
	f.place(SERV21, "B", 21);
	auto s1 = make_session(VM210, SERV21, 21, ip4(10, 0, 0, 1));
	s1.key.host_ip = dp::IpAddr{dp::IpAddr::Family::V4, {192, 0, 2, 10}};
	s1.server_ip = dp::IpAddr{dp::IpAddr::Family::V6, {0x20, 0x01, 0x0d, 0xb8, 15, 1}};
	f.add_session(s1);
	f.add_session(make_session(VM210, SERV22, 22)); // server unknown
	// a second session of the same host and server, with a profile
	auto s2 = make_session(VM210, SERV21, 21, ip4(10, 0, 0, 3));
	s2.options = test_profile("roce", EVPN_MON_DIR_RX, 100);
	f.add_session(s2);
	f.converge();
	for (auto &v : f.vteps()) {
		CAPTURE(v->name);
		auto doc = state_of(*v);
		doc["evpn-monitor:fpm-consumer"]["feed"] = {{"state", "synced"}, {"version", 2}};
		CHECK(y.validate(doc.dump()) == "");
		bool profiled = false;
		for (const auto &en : doc["evpn-monitor:fpm-consumer"]["entries"]["entry"])
			profiled |= en.contains("profile") && en.contains("session-id") &&
				    en["counters"].contains("sampled-out");
		CHECK(profiled);
	}
	// something to see in each document
	// 3 x entries 1, 2 (SERV22's with the action none); on B entry 3
	CHECK(state_of(f["A"])["evpn-monitor:fpm-consumer"]["entries"]["entry"].size() == 6);
	CHECK(state_of(f["B"])["evpn-monitor:fpm-consumer"]["entries"]["entry"].size() == 7);
	int none = 0;
	const auto a = state_of(f["A"]);
	for (const auto &en : a["evpn-monitor:fpm-consumer"]["entries"]["entry"])
		none += en["action"]["type"] == "none";
	CHECK(none == 2);

	SUBCASE("the validator rejects what the module forbids")
	{
		auto doc = state_of(f["A"]);
		auto &top = doc["evpn-monitor:fpm-consumer"];
		auto bad_id = doc;
		bad_id["evpn-monitor:fpm-consumer"]["entries"]["entry"][0]["host-id"] = 0;
		CHECK(y.validate(bad_id.dump()) != "");
		auto unknown_leaf = doc;
		unknown_leaf["evpn-monitor:fpm-consumer"]["gates"]["bogus"] = true;
		CHECK(y.validate(unknown_leaf.dump()) != "");
		auto number_counter = doc;
		number_counter["evpn-monitor:fpm-consumer"]["counters"]["counter"][0]["value"] = 5;
		CHECK(y.validate(number_counter.dump()) != ""); // uint64 must be a JSON string
		auto bad_session = doc;
		bad_session["evpn-monitor:fpm-consumer"]["entries"]["entry"][0]["session-id"] = "a b";
		CHECK(y.validate(bad_session.dump()) != "");
		CHECK(top.contains("sessions"));
	}
}

TEST_CASE("empty state validates too")
{
	Ctx y;
	Fabric f({{"A", ip4(10, 0, 0, 1)}});
	f.converge();
	CHECK(y.validate(state_of(f["A"]).dump()) == "");
}

TEST_CASE("a kept (stale) server location validates")
{
	Ctx y;
	Fabric f({{"A", ip4(10, 0, 0, 1)}, {"B", ip4(10, 0, 0, 2)}});
	f.place(VM210, "A", 11);
	f.place(SERV21, "B", 21);
	f.add_session(make_session(VM210, SERV21, 21));
	f.converge();
	f.forget(SERV21, "B", 21); // a silent server aged out
	f.converge();
	for (auto &v : f.vteps()) {
		CAPTURE(v->name);
		const auto doc = state_of(*v);
		const auto &loc =
			doc["evpn-monitor:fpm-consumer"]["sessions"]["session"][0]["server-location"];
		CHECK(loc.contains("kept-since"));
		CHECK(y.validate(doc.dump()) == "");
		auto bad = doc;
		bad["evpn-monitor:fpm-consumer"]["sessions"]["session"][0]["server-location"]
		   ["kept-since"] = "yesterday";
		CHECK(y.validate(bad.dump()) != "");
	}
}

TEST_CASE("collector sessions, their entries and the collectors in use validate")
{
	Ctx y;
	Fabric f({{"A", ip4(10, 0, 0, 1)}, {"B", ip4(10, 0, 0, 2)}});
	f.place(VM210, "A", 11);
	f.place(SERV21, "B", 21);
	const auto coll = ipv4_addr(10, 9, 0, 1);
	f.add_session(make_session(VM210, SERV21, 21));
	f.add_session(make_collector_session(
		VM210, 7, coll, erspan_options(3, 7, 46, 16, 0x8949, test_profile("cnp", EVPN_MON_DIR_RX)),
		ip4(10, 0, 0, 1)));
	dp::IpAddr v6;
	v6.family = dp::IpAddr::Family::V6;
	v6.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	f.add_session(make_collector_session(VM210, 8, v6, erspan_options(2, 8)));
	f.converge();
	for (auto &v : f.vteps()) {
		CAPTURE(v->name);
		const auto doc = state_of(*v);
		const auto &top = doc["evpn-monitor:fpm-consumer"];
		std::set<std::string> states;
		for (const auto &s : top["sessions"]["session"])
			states.insert(s["status"].get<std::string>());
		CHECK(states == std::set<std::string>{"active", "collector-unsupported"});
		REQUIRE(top["collectors"]["collector"].size() == 1);
		CHECK(y.validate(doc.dump()) == "");

		// what the module forbids
		auto bad = doc;
		bad["evpn-monitor:fpm-consumer"]["collectors"]["collector"][0]["span-id"] = 1024;
		CHECK(y.validate(bad.dump()) != "");
		bad = doc;
		for (auto &s : bad["evpn-monitor:fpm-consumer"]["sessions"]["session"])
			if (s.contains("collector-id"))
				s["collector-id"] = 0;
		CHECK(y.validate(bad.dump()) != "");
		bad = doc;
		for (auto &e : bad["evpn-monitor:fpm-consumer"]["entries"]["entry"])
			if (e["action"]["type"] == "erspan")
				e["action"]["type"] = "vxlan"; // ERSPAN leaves under a VXLAN action
		CHECK(y.validate(bad.dump()) != "");
	}
}

TEST_CASE("held sessions (denied, over-limit) and the audit history validate")
{
	Ctx y;
	Fabric f({{"A", ip4(10, 0, 0, 1)}});
	auto s = make_session(VM210, SERV21, 21, ip4(10, 0, 0, 101));
	s.import_state = consumer::ImportState::Denied;
	s.import_reason = "rule 10 deny";
	auto t = make_session(VM210, SERV22, 22, ip4(10, 0, 0, 101));
	t.import_state = consumer::ImportState::OverLimit;
	t.options = test_profile("roce");
	auto c = make_collector_session(VM210, 7, ipv4_addr(10, 9, 0, 1), erspan_options(3, 7),
					ip4(10, 0, 0, 101));
	f.add_session(s);
	f.add_session(t);
	f.add_session(c);
	t.import_state = consumer::ImportState::Installed;
	f.add_session(t); // a flip: install (was over-limit)
	f.add_session(make_session(VM210, SERV22, 23)); // installed, no reason
	f.converge();
	auto &v = f["A"];
	const auto state = state_of(v);
	CHECK(y.validate(state.dump()) == "");
	const auto history = consumer::history_json(v.engine->audit_log());
	REQUIRE(history["evpn-monitor:fpm-consumer"]["audit"]["event"].size() == 5);
	CHECK(y.validate(history.dump()) == "");

	SUBCASE("an event kind or a decision out of the enumeration does not")
	{
		auto bad = history;
		bad["evpn-monitor:fpm-consumer"]["audit"]["event"][0]["event"] = "approve";
		CHECK(y.validate(bad.dump()) != "");
		bad = history;
		bad["evpn-monitor:fpm-consumer"]["audit"]["event"][0]["decision"] = "maybe";
		CHECK(y.validate(bad.dump()) != "");
		auto st = state;
		st["evpn-monitor:fpm-consumer"]["sessions"]["session"][0]["import-state"] = "allowed";
		CHECK(y.validate(st.dump()) != "");
	}
}

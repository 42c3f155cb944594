// evpnmon-ctl's text and JSON views (ctl/render.*) of collector sessions and
// the collectors in use, from the state document the daemon serves.
#include "core/state_json.hpp"
#include "ctl/render.hpp"
#include "fabric.hpp"
#include "fake_dataplane.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace evpnmon;
using namespace evpnmon::test;

namespace {

const Mac HOST{2, 0, 0, 0, 0, 0x10};

// The whitespace-separated fields of line `n` (0 = the header).
std::vector<std::string> fields(const std::string &text, int n)
{
	std::istringstream lines(text);
	std::string line;
	for (int i = 0; i <= n; ++i)
		std::getline(lines, line);
	std::istringstream in(line);
	std::vector<std::string> out;
	for (std::string x; in >> x;)
		out.push_back(x);
	return out;
}

std::string render(const nlohmann::json &doc, const char *what)
{
	std::ostringstream out;
	ctl::render_text(doc, what, out);
	return out.str();
}

} // namespace

TEST_CASE("collector sessions, their entries and the collectors with their counters")
{
	FakeDataplane dataplane;
	consumer::EngineConfig cfg;
	cfg.decision.local_vnis = {kVni};
	consumer::Engine e(dataplane, cfg);
	for (auto g : {consumer::Gate::Feed, consumer::Gate::LocalMacs, consumer::Gate::Fpm})
		e.open_gate(g);
	const auto coll = ipv4_addr(10, 9, 0, 1);
	const auto s = make_collector_session(HOST, 7, coll, erspan_options(3, 7, 46, 16), ip4(10, 0, 0, 1));
	e.upsert_session(s);
	REQUIRE(e.reconcile());
	dp::ErspanCounters c;
	c.packets = 123;
	c.bytes = 45678;
	c.no_route = 9;
	c.mtu_truncated = 4;
	c.errors = 2;
	c.last_seq = 122;
	dataplane.erspan = {{erspan_to(coll, 3, 7, 46, 16).erspan, c}};
	const nlohmann::json doc = {{ctl::kTop, consumer::engine_state_json(e, &dataplane)}};

	// VNI HOST ID SERVER STATUS HOST-AT SERVER-AT: a collector is routed, not located
	const auto sessions = render(doc, "sessions");
	CHECK(fields(sessions, 1) == std::vector<std::string>{"1000", "02:00:00:00:00:10", "c7", "10.9.0.1",
							      "active", "unknown", "routed"});
	CHECK(sessions.find("session " + s.id) != std::string::npos);

	const auto roles = render(doc, "roles");
	CHECK(fields(roles, 1) == std::vector<std::string>{"1000", "02:00:00:00:00:10", "c7", "yes", "yes",
							   "no", "erspan", "10.9.0.1", "v3", "span", "7"});

	const auto entries = render(doc, "entries");
	const auto e1 = fields(entries, 1);
	REQUIRE(e1.size() > 8);
	CHECK(e1[0] == "mirror-source"); // EntryKind order: entry 1 first
	CHECK(e1[3] == "c7");
	CHECK(render(doc, "entries").find("erspan 10.9.0.1 v3 span 7") != std::string::npos);

	const auto collectors = render(doc, "collectors");
	std::istringstream lines(collectors);
	std::string header, row, extra;
	std::getline(lines, header);
	std::getline(lines, row);
	CHECK(!std::getline(lines, extra));
	for (const char *col : {"COLLECTOR", "SPAN", "PACKETS", "BYTES", "NO-ROUTE", "MTU-TRUNC",
				"ERRORS", "LAST-SEQ"})
		CHECK(header.find(col) != std::string::npos);
	std::istringstream fields(row);
	std::vector<std::string> f;
	for (std::string x; fields >> x;)
		f.push_back(x);
	CHECK(f == std::vector<std::string>{"10.9.0.1", "7", "3", "46", "16", "0x22eb", "2", "123",
					    "45678", "9", "4", "2", "122"});

	CHECK(render(doc, "all").find("== collectors ==") != std::string::npos);
	const auto sel = ctl::select_json(doc, "collectors");
	CHECK(sel[ctl::kTop].size() == 1);
	CHECK(sel[ctl::kTop]["collectors"]["collector"].size() == 1);
}

TEST_CASE("history: the audit's events as text, and held sessions say why")
{
	FakeDataplane dataplane;
	consumer::EngineConfig cfg;
	cfg.decision.local_vnis = {kVni};
	cfg.audit_clock = [] { return std::int64_t{1764777000123}; };
	consumer::Engine e(dataplane, cfg);
	auto s = make_session(HOST, Mac{2, 0, 0, 0, 0, 0x21}, 21, ip4(10, 0, 0, 101));
	s.options = test_profile("roce", EVPN_MON_DIR_RX);
	s.import_state = consumer::ImportState::Denied;
	s.import_reason = "rule 10 deny";
	e.upsert_session(s);
	s.import_state = consumer::ImportState::Installed;
	s.import_reason = "rule 20 permit";
	e.upsert_session(s);

	// An older daemon answers `history` with its state: told apart.
	CHECK(ctl::is_history(consumer::history_json(e.audit_log(), 0)));
	CHECK_FALSE(ctl::is_history(
		nlohmann::json{{ctl::kTop, consumer::engine_state_json(e, &dataplane)}}));
	CHECK_FALSE(ctl::is_history(nlohmann::json::object()));

	std::ostringstream out;
	ctl::render_history(consumer::history_json(e.audit_log(), 0), out);
	const auto text = out.str();
	CHECK(fields(text, 0) == std::vector<std::string>{"2", "event(s)", "shown,", "2", "recorded",
							   "since", "start,", "1000", "kept"});
	CHECK(fields(text, 1) ==
	      std::vector<std::string>{"SEQ", "TIME", "EVENT", "DECISION", "SESSION"});
	CHECK(fields(text, 2) == std::vector<std::string>{"1", "2025-12-03T15:50:00.123Z", "deny",
							   "denied", "(was", "new)", s.id});
	CHECK(fields(text, 5) == std::vector<std::string>{"2", "2025-12-03T15:50:00.123Z", "install",
							   "installed", "(was", "denied)", s.id});
	const auto details = fields(text, 6);
	REQUIRE(details.size() == 13);
	CHECK(details[1] == "10.0.0.101");
	CHECK(details[5] == "02:00:00:00:00:10");
	CHECK(details[7] == "server");
	CHECK(details[8] == "21");
	CHECK(details[12] == "roce#" + consumer::options_digest(s.options));
	CHECK(fields(text, 7) == std::vector<std::string>{"reason:", "rule", "20", "permit"});

	SUBCASE("a held session in `sessions`")
	{
		s.import_state = consumer::ImportState::OverLimit;
		s.import_reason = "maximum-sessions 16384 reached";
		e.upsert_session(s);
		const auto doc = nlohmann::json{
			{ctl::kTop, consumer::engine_state_json(e, &dataplane)}};
		const auto t = render(doc, "sessions");
		CHECK(t.find("over-limit") != std::string::npos);
		CHECK(t.find("not installed: over-limit, maximum-sessions 16384 reached") !=
		      std::string::npos);
	}
}

TEST_CASE("a session whose server is unknown: its entries shown with the action none")
{
	FakeDataplane dataplane;
	dataplane.with_servers = true;
	consumer::EngineConfig cfg;
	cfg.decision.local_vnis = {kVni};
	consumer::Engine e(dataplane, cfg);
	for (auto g : {consumer::Gate::Feed, consumer::Gate::LocalMacs, consumer::Gate::Fpm})
		e.open_gate(g);
	e.upsert_session(make_session(HOST, Mac{2, 0, 0, 0, 0, 0x21}, 21));
	REQUIRE(e.reconcile());
	const nlohmann::json doc = {{ctl::kTop, consumer::engine_state_json(e, &dataplane)}};

	const auto sessions = render(doc, "sessions");
	CHECK(fields(sessions, 1).at(4) == "server-unknown");
	const auto entries = render(doc, "entries");
	CHECK(fields(entries, 1).at(0) == "mirror-source");
	CHECK(fields(entries, 3).at(0) == "mirror-dest"); // each entry then its session line
	std::size_t none = 0;
	for (auto at = entries.find("none (no target: no copy)"); at != std::string::npos;
	     at = entries.find("none (no target: no copy)", at + 1))
		++none;
	CHECK(none == 2);
}

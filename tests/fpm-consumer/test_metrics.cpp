// The metrics renderer (core/metrics_text.*): Prometheus text format 0.0.4
// checked with a strict parser (prom_text.hpp), its values checked against
// the state JSON it is fed (the document evpnmon-ctl --json prints).
#include "core/metrics_text.hpp"
#include "core/state_json.hpp"
#include "exactly_once.hpp"
#include "fabric.hpp"
#include "prom_text.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace evpnmon;
using namespace evpnmon::test;
using consumer::Histogram;
using consumer::MetricType;
using consumer::render_metrics;
using nlohmann::json;

namespace {

const Mac VM210{2, 0, 0, 0, 2, 0x10}, VM220{2, 0, 0, 0, 2, 0x20}, SERV21{2, 0, 0, 0, 0, 0x21},
	SERV22{2, 0, 0, 0, 0, 0x22};

json state_of(Vtep &v, const std::vector<consumer::Counter> &extra = {})
{
	return json{{"evpn-monitor:fpm-consumer", consumer::engine_state_json(*v.engine, &v.dataplane, extra)}};
}

prom::Exposition parse_ok(const std::string &text)
{
	auto e = prom::parse(text);
	for (const auto &err : e.errors)
		FAIL_CHECK(err);
	return e;
}

std::map<std::string, std::uint64_t> json_counters(const json &doc)
{
	std::map<std::string, std::uint64_t> m;
	for (const auto &c : doc["evpn-monitor:fpm-consumer"]["counters"]["counter"])
		m[c["name"].get<std::string>()] = std::stoull(c["value"].get<std::string>());
	return m;
}

const consumer::CounterMetric *catalogued(const std::string &counter)
{
	for (const auto &m : consumer::counter_metrics())
		if (counter == m.counter)
			return &m;
	return nullptr;
}

} // namespace

TEST_CASE("the strict parser used here rejects broken expositions")
{
	// (so that a passing check below means something)
	CHECK(!prom::parse("x_total 1\n").errors.empty());                             // no TYPE
	CHECK(!prom::parse("# HELP a h\n# TYPE a gauge\na{l=\"x\"} 1\na{l=\"x\"} 2\n").errors.empty()); // dup
	CHECK(!prom::parse("# HELP a h\n# TYPE a gauge\na{l=\"x\\q\"} 1\n").errors.empty()); // bad escape
	CHECK(!prom::parse("# HELP a h\n# TYPE a gauge\na one\n").errors.empty());           // bad value
	CHECK(!prom::parse("# HELP a h\n# TYPE a counter\na 1\n").errors.empty());           // no _total
	CHECK(!prom::parse("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
			   "h_sum 1\nh_count 1\n")
		       .errors.empty()); // not cumulative
	CHECK(!prom::parse("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n")
		       .errors.empty()); // no +Inf
	CHECK(!prom::parse("# HELP a h\n# TYPE a gauge\na 1\n# HELP b h\n# TYPE b gauge\nb 1\na 2\n")
		       .errors.empty()); // family split
	CHECK(prom::parse("# HELP a h\\\\x\\n\n# TYPE a gauge\na{l=\"\\\"\\\\\\n\"} 1\n").errors.empty());
}

TEST_CASE("the engine's state renders as valid exposition text with the state's values")
{
	Fabric f({{"A", ip4(10, 0, 0, 1)}, {"B", ip4(10, 0, 0, 2)}, {"C", ip4(10, 0, 0, 3)}});
	f.place(VM210, "A", 11);
	f.place(VM220, "C", 12);
	f.place(SERV21, "B", 21);
	auto s1 = make_session(VM210, SERV21, 21, ip4(10, 0, 0, 1));
	s1.key.host_ip = dp::IpAddr{dp::IpAddr::Family::V4, {192, 0, 2, 10}};
	f.add_session(s1);
	f.add_session(make_session(VM220, SERV21, 21));
	f.add_session(make_session(VM210, SERV22, 22)); // server unknown
	f.converge();
	// traffic VM210 -> VM220 moves the dataplane counters of entries on A and C
	const std::map<Mac, Endpoint> where = {{VM210, {"A", 11}}, {VM220, {"C", 12}}, {SERV21, {"B", 21}}};
	for (int i = 0; i < 3; ++i)
		copies_for_packet(f, where, VM210, VM220);

	Histogram h(consumer::reconcile_duration_buckets());
	h.observe(0.0002);
	h.observe(0.003);
	for (auto &v : f.vteps()) {
		CAPTURE(v->name);
		const json doc = state_of(*v, {{"fpm-connections", 2}, {"last-reconcile-us", 1500}});
		const json &top = doc["evpn-monitor:fpm-consumer"];
		const std::string text = render_metrics(doc, &h);
		const auto e = parse_ok(text);

		// the inner object renders the same
		CHECK(render_metrics(top, &h) == text);

		// sessions by state = the sessions of the state
		std::map<std::string, int> states;
		for (const auto &s : top["sessions"]["session"])
			++states[s["status"].get<std::string>()];
		CHECK(states["active"] == 2);
		CHECK(states["server-unknown"] == 1);
		for (const char *st : {"active", "server-unknown", "server-unreachable", "vni-not-local",
				       "conflict", "invalid"})
			CHECK(e.value("evpnmon_sessions", {{"state", st}}) == states[st]);
		REQUIRE(e.family("evpnmon_sessions"));
		CHECK(e.family("evpnmon_sessions")->type == "gauge");

		// entries by kind = the entries of the state
		std::map<std::string, int> kinds;
		for (const auto &en : top["entries"]["entry"])
			++kinds[en["kind"].get<std::string>()];
		CHECK(!kinds.empty());
		for (const char *k : {"mirror-source", "mirror-dest", "decap"})
			CHECK(e.value("evpnmon_entries", {{"kind", k}}) == kinds[k]);

		// every entry's dataplane counters, labelled by its key
		std::uint64_t packets_seen = 0;
		for (const auto &en : top["entries"]["entry"]) {
			const std::map<std::string, std::string> labels = {
				{"kind", en["kind"].get<std::string>()},
				{"vni", std::to_string(en["vni"].get<unsigned>())},
				{"host_mac", en.value("host-mac", "")},
				{"host_ip", en.value("host-ip", "")},
				{"host_id", en.contains("host-id") ? std::to_string(en["host-id"].get<unsigned>()) : ""},
				{"collector_id", en.contains("collector-id") ? std::to_string(en["collector-id"].get<unsigned>()) : ""},
				{"session", en.value("session-id", "")}};
			// entries 1/2 name their session, entry 3 none
			CHECK(labels.at("session").empty() == (labels.at("kind") == "decap"));
			for (const char *leaf :
			     {"packets", "bytes", "drops", "filtered", "sampled-out", "policed"}) {
				CAPTURE(leaf);
				std::string metric = std::string("evpnmon_entry_") + leaf + "_total";
				std::replace(metric.begin(), metric.end(), '-', '_');
				CHECK(e.value_text(metric, labels) == en["counters"][leaf].get<std::string>());
			}
			packets_seen += std::stoull(en["counters"]["packets"].get<std::string>());
		}
		if (v->name == "A")
			CHECK(packets_seen >= 3); // VM210's entry 1 saw the 3 packets
		if (v->name == "B")
			CHECK(packets_seen >= 3); // SERV21's entry 3 delivered them
		CHECK(e.family("evpnmon_entry_packets_total")->type == "counter");

		// every counter of the state, under its catalogued name and type
		for (const auto &[name, value] : json_counters(doc)) {
			CAPTURE(name);
			const auto *m = catalogued(name);
			REQUIRE(m);
			const auto *fam = e.family(m->metric);
			REQUIRE(fam);
			CHECK(fam->type == (m->type == MetricType::Counter ? "counter" : "gauge"));
			REQUIRE(e.value(m->metric));
			CHECK(*e.value(m->metric) == doctest::Approx(static_cast<double>(value) * m->scale));
		}
		CHECK(e.value("evpnmon_last_reconcile_duration_seconds") == doctest::Approx(0.0015));
		CHECK(e.value("evpnmon_fpm_connections_total") == 2);
		CHECK(e.value_text("evpnmon_reconciles_total") ==
		      std::to_string(v->engine->counters().reconciles));
		for (const auto &fam : e.families)
			CHECK(fam.type != "untyped");

		// gates
		CHECK(e.value("evpnmon_gate_open", {{"gate", "feed"}}) == 1);
		CHECK(e.value("evpnmon_gate_open", {{"gate", "fpm"}}) == 1);

		// the histogram
		CHECK(e.value("evpnmon_reconcile_duration_seconds_count") == 2);
		CHECK(e.value("evpnmon_reconcile_duration_seconds_bucket", {{"le", "+Inf"}}) == 2);
	}
}

TEST_CASE("catalogue: Prometheus names, one per counter, every engine counter")
{
	std::set<std::string> names, counters;
	const std::regex name_re("evpnmon_[a-z0-9_]+");
	for (const auto &m : consumer::counter_metrics()) {
		CAPTURE(m.counter);
		CHECK(names.insert(m.metric).second);
		CHECK(counters.insert(m.counter).second);
		CHECK(std::regex_match(m.metric, name_re));
		const std::string metric = m.metric;
		const bool total = metric.size() > 6 && metric.substr(metric.size() - 6) == "_total";
		CHECK(total == (m.type == MetricType::Counter));
		CHECK(std::string(m.help).size() > 10);
		// the rule: evpnmon_ + name with _ (+ _total), unless a unit is converted
		if (m.scale == 1) {
			std::string expect = "evpnmon_" + std::string(m.counter);
			std::replace(expect.begin(), expect.end(), '-', '_');
			if (m.type == MetricType::Counter)
				expect += "_total";
			CHECK(metric == expect);
		} else {
			CHECK(metric.find("_seconds") != std::string::npos);
		}
	}
	// every counter the engine reports is catalogued
	Fabric f({{"A", ip4(10, 0, 0, 1)}});
	for (const auto &[name, value] : consumer::engine_counters(*f["A"].engine)) {
		CAPTURE(name);
		CHECK(catalogued(name));
	}
}

TEST_CASE("histogram: cumulative buckets ending in +Inf, _sum and _count")
{
	Histogram h({0.001, 0.01, 0.1});
	h.observe(0.0005);
	h.observe(0.001); // on a bound: counted in that bucket (le)
	h.observe(0.05);
	h.observe(5);
	h.observe(NAN); // ignored
	CHECK(h.count() == 4);
	const std::string text = render_metrics(json::object(), &h);
	const auto e = parse_ok(text);
	const auto *fam = e.family("evpnmon_reconcile_duration_seconds");
	REQUIRE(fam);
	CHECK(fam->type == "histogram");
	CHECK(text.find("evpnmon_reconcile_duration_seconds_bucket{le=\"0.001\"} 2\n"
			"evpnmon_reconcile_duration_seconds_bucket{le=\"0.01\"} 2\n"
			"evpnmon_reconcile_duration_seconds_bucket{le=\"0.1\"} 3\n"
			"evpnmon_reconcile_duration_seconds_bucket{le=\"+Inf\"} 4\n"
			"evpnmon_reconcile_duration_seconds_sum ") != std::string::npos);
	CHECK(e.value("evpnmon_reconcile_duration_seconds_sum") == doctest::Approx(5.0515));
	CHECK(e.value_text("evpnmon_reconcile_duration_seconds_count") == "4");

	SUBCASE("empty histogram")
	{
		const Histogram empty({1, 2});
		const auto e0 = parse_ok(render_metrics(json::object(), &empty));
		CHECK(e0.value("evpnmon_reconcile_duration_seconds_bucket", {{"le", "+Inf"}}) == 0);
		CHECK(e0.value("evpnmon_reconcile_duration_seconds_count") == 0);
		CHECK(e0.value("evpnmon_reconcile_duration_seconds_sum") == 0);
	}
	SUBCASE("no histogram: no family")
	{
		CHECK(parse_ok(render_metrics(json::object(), nullptr)).family("evpnmon_reconcile_duration_seconds") == nullptr);
	}
	SUBCASE("bad bounds are refused")
	{
		CHECK_THROWS(Histogram({0.1, 0.1}));
		CHECK_THROWS(Histogram({0.1, INFINITY}));
	}
	SUBCASE("the reconcile buckets are in seconds, from 100 us to seconds")
	{
		const auto b = consumer::reconcile_duration_buckets();
		CHECK(b.front() <= 0.0001);
		CHECK(b.back() >= 1);
		CHECK(std::is_sorted(b.begin(), b.end()));
	}
}

TEST_CASE("label values and HELP text are escaped")
{
	CHECK(consumer::escape_label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
	CHECK(consumer::escape_help("a\"b\\c\nd") == "a\"b\\\\c\\nd");
	// hostile strings in the state reach the output escaped and parse back
	const std::string nasty = "x\"} 1\nevpnmon_fake 2\\";
	json top;
	top["entries"]["entry"] = json::array({{{"kind", nasty},
						 {"vni", 7},
						 {"host-mac", "02:00:00:00:00:01"},
						 {"host-id", 3},
						 {"counters", {{"packets", "5"}, {"bytes", "300"}, {"drops", "0"}}}}});
	top["feed"]["state"] = nasty;
	top["sessions"]["session"] = json::array({{{"status", nasty}}});
	top["counters"]["counter"] = json::array({{{"name", "brand-new\ncounter"}, {"value", "9"}}});
	const std::string text = render_metrics(top, nullptr);
	const auto e = parse_ok(text);
	CHECK(e.family("evpnmon_fake") == nullptr);
	CHECK(e.value("evpnmon_entry_packets_total", {{"kind", nasty},
						      {"vni", "7"},
						      {"host_mac", "02:00:00:00:00:01"},
						      {"host_ip", ""},
						      {"host_id", "3"},
						      {"collector_id", ""},
						      {"session", ""}}) == 5);
	CHECK(e.value("evpnmon_entries", {{"kind", nasty}}) == 1);
	CHECK(e.value("evpnmon_feed_state", {{"state", nasty}}) == 1);
	CHECK(e.value("evpnmon_feed_state", {{"state", "synced"}}) == 0);
	CHECK(e.value("evpnmon_sessions", {{"state", nasty}}) == 1);
	// an uncatalogued counter is not lost: untyped, name sanitised, HELP escaped
	const auto *fam = e.family("evpnmon_brand_new_counter");
	REQUIRE(fam);
	CHECK(fam->type == "untyped");
	CHECK(fam->help.find("brand-new\ncounter") != std::string::npos);
	CHECK(e.value("evpnmon_brand_new_counter") == 9);
}

TEST_CASE("values: counter64 strings verbatim, junk skipped, floats round-trip")
{
	json top;
	top["counters"]["counter"] = json::array({{{"name", "fpm-bytes"}, {"value", "18446744073709551615"}},
						   {{"name", "fpm-frames"}, {"value", "12x"}},
						   {{"name", "fpm-messages"}, {"value", 12}},
						   {{"name", "last-reconcile-us"}, {"value", "250"}}});
	const auto e = parse_ok(render_metrics(top, nullptr));
	CHECK(e.value_text("evpnmon_fpm_bytes_total") == "18446744073709551615");
	CHECK(e.family("evpnmon_fpm_frames_total") == nullptr);
	CHECK(e.value_text("evpnmon_fpm_messages_total") == "12");
	CHECK(e.value_text("evpnmon_last_reconcile_duration_seconds") == "0.00025");
	CHECK(consumer::format_metric_value(0.0001) == "0.0001");
	CHECK(consumer::format_metric_value(2.5) == "2.5");
	CHECK(consumer::format_metric_value(1) == "1");
	CHECK(consumer::format_metric_value(INFINITY) == "+Inf");
	CHECK(consumer::format_metric_value(-INFINITY) == "-Inf");
	CHECK(consumer::format_metric_value(NAN) == "NaN");
	CHECK(std::stod(consumer::format_metric_value(0.1 + 0.2)) == 0.1 + 0.2);
}

TEST_CASE("an empty state still renders every family with zeros")
{
	const auto e = parse_ok(render_metrics(json::object(), nullptr));
	CHECK(e.value("evpnmon_sessions", {{"state", "active"}}) == 0);
	CHECK(e.value("evpnmon_sessions", {{"state", "collector-unsupported"}}) == 0);
	CHECK(e.value("evpnmon_entries", {{"kind", "decap"}}) == 0);
	CHECK(e.value("evpnmon_fpm_connected") == 0);
	CHECK(e.value("evpnmon_gate_open", {{"gate", "local-macs"}}) == 0);
	CHECK(e.value("evpnmon_feed_state", {{"state", "subscribing"}}) == 0);
}

#ifdef EVPNMON_DOCS_DIR
TEST_CASE("every metric is documented in docs/fpm-consumer.md")
{
	std::ifstream f(std::string(EVPNMON_DOCS_DIR) + "/fpm-consumer.md");
	REQUIRE(f.good());
	std::stringstream ss;
	ss << f.rdbuf();
	const std::string doc = ss.str();
	// every family the renderer writes for a full state
	Fabric fab({{"A", ip4(10, 0, 0, 1)}});
	std::vector<consumer::Counter> all;
	for (const auto &m : consumer::counter_metrics())
		all.push_back({m.counter, 1});
	Histogram h(consumer::reconcile_duration_buckets());
	const auto e = parse_ok(render_metrics(state_of(fab["A"], all), &h));
	CHECK(e.families.size() > 60);
	for (const auto &fam : e.families) {
		CAPTURE(fam.name);
		CHECK(doc.find("| `" + fam.name + "` | " + fam.type + " |") != std::string::npos);
	}
}
#endif

TEST_CASE("collectors: ERSPAN counters per (collector, span_id), collector sessions by state")
{
	Fabric f({{"A", ip4(10, 0, 0, 1)}});
	f.place(VM210, "A", 11);
	const auto c1 = ipv4_addr(10, 9, 0, 1), c2 = ipv4_addr(10, 9, 0, 2);
	f.add_session(make_collector_session(VM210, 7, c1, erspan_options(3, 7)));
	f.add_session(make_collector_session(VM220, 9, c2, erspan_options(2, 9)));
	dp::IpAddr v6;
	v6.family = dp::IpAddr::Family::V6;
	v6.bytes[0] = 0x20;
	v6.bytes[15] = 1;
	f.add_session(make_collector_session(VM220, 10, v6, erspan_options(2, 10)));
	f.converge();
	auto doc = state_of(f["A"]);
	auto &top = doc["evpn-monitor:fpm-consumer"];
	REQUIRE(top["collectors"]["collector"].size() == 2);
	// the dataplane's counters as the state carries them
	top["collectors"]["collector"][0]["counters"] = {{"packets", "11"}, {"bytes", "1200"},
							 {"no-route", "3"}, {"mtu-truncated", "2"},
							 {"errors", "1"}, {"last-seq", 10}};
	const auto e = parse_ok(render_metrics(doc, nullptr));
	const std::map<std::string, std::string> l1 = {{"collector", "10.9.0.1"}, {"span_id", "7"}};
	CHECK(e.value("evpnmon_erspan_packets_total", l1) == 11);
	CHECK(e.value("evpnmon_erspan_bytes_total", l1) == 1200);
	CHECK(e.value("evpnmon_erspan_no_route_total", l1) == 3);
	CHECK(e.value("evpnmon_erspan_mtu_truncated_total", l1) == 2);
	CHECK(e.value("evpnmon_erspan_errors_total", l1) == 1);
	CHECK(e.value("evpnmon_erspan_last_seq", l1) == 10);
	CHECK(e.family("evpnmon_erspan_packets_total")->type == "counter");
	CHECK(e.family("evpnmon_erspan_last_seq")->type == "gauge");
	// a destination without dataplane counters has no series (yet)
	CHECK(!e.value("evpnmon_erspan_packets_total", {{"collector", "10.9.0.2"}, {"span_id", "9"}}));
	CHECK(e.value("evpnmon_sessions", {{"state", "collector-unsupported"}}) == 1);
	CHECK(e.value("evpnmon_sessions", {{"state", "active"}}) == 2);
	CHECK(e.value("evpnmon_sessions_collector") == 2);
	CHECK(e.value("evpnmon_sessions_collector_unsupported") == 1);
	// the entries of a collector session name it by collector_id
	CHECK(e.value("evpnmon_entry_packets_total",
		      {{"kind", "mirror-source"}, {"vni", std::to_string(kVni)},
		       {"host_mac", "02:00:00:00:02:10"}, {"host_ip", ""}, {"host_id", ""},
		       {"collector_id", "7"}, {"session", "0.0.0.0/1000/c7/02:00:00:00:02:10/-"}}) == 0);

	SUBCASE("two encapsulations of one (collector, span id) are one series, summed")
	{
		auto two = doc;
		auto &list = two["evpn-monitor:fpm-consumer"]["collectors"]["collector"];
		auto other = list[0];
		other["erspan-version"] = 2;
		other["counters"]["packets"] = "5";
		other["counters"]["last-seq"] = 4;
		list.push_back(other);
		const auto e2 = parse_ok(render_metrics(two, nullptr));
		CHECK(e2.value("evpnmon_erspan_packets_total", l1) == 16);
		CHECK(e2.value("evpnmon_erspan_last_seq", l1) == 10);
	}
}

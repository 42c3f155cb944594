#include "ctl/render.hpp"

#include <cstdio>
#include <iomanip>
#include <sstream>

namespace evpnmon::ctl {

using nlohmann::json;

namespace {

std::string str(const json &j, const char *key, const char *dflt = "-")
{
	if (!j.contains(key))
		return dflt;
	const auto &v = j.at(key);
	return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string location(const json &loc)
{
	const auto kind = str(loc, "kind");
	const std::string kept =
		loc.contains("kept-since") ? " (stale, kept since " + str(loc, "kept-since") + ")" : "";
	if (kind == "local")
		return "local " + str(loc, "port") + kept;
	if (kind == "remote")
		return "remote " + str(loc, "vtep") + kept;
	return kind;
}

std::string action(const json &a)
{
	if (str(a, "type") == "local-port")
		return "port " + str(a, "port");
	if (str(a, "type") == "none")
		return "none (no target: no copy)";
	if (str(a, "type") == "erspan")
		return "erspan " + str(a, "collector") + " v" + str(a, "erspan-version") + " span " +
		       str(a, "span-id");
	return "vxlan " + str(a, "remote-vtep") + " vni " + str(a, "vni") + " id " + str(a, "host-id");
}

std::string host(const json &j)
{
	std::string h = str(j, "host-mac", "");
	if (j.contains("host-ip"))
		h += (h.empty() ? "" : "/") + str(j, "host-ip");
	return h.empty() ? "-" : h;
}

// The destination's ID: a server's HOST ID, or "c" and a collector's ID.
std::string dest_id(const json &j)
{
	if (j.contains("collector-id"))
		return "c" + str(j, "collector-id");
	return str(j, "host-id");
}

// A server session's server MAC, or a collector session's collector.
std::string dest(const json &j)
{
	if (j.contains("collector-id"))
		return str(j, "collector-ip");
	return str(j, "server-mac");
}

const json &list(const json &top, const char *container, const char *item)
{
	static const json empty = json::array();
	if (!top.contains(container) || !top.at(container).contains(item))
		return empty;
	return top.at(container).at(item);
}

// The session's identity and profile, on an indented line under its row
// (too wide for a column): "session ID" [+ " profile ..."].
void identity_line(const json &j, std::ostream &out)
{
	if (!j.contains("session-id") && !j.contains("profile"))
		return;
	out << "    ";
	if (j.contains("session-id"))
		out << "session " << str(j, "session-id");
	if (j.contains("profile"))
		out << (j.contains("session-id") ? "  " : "") << str(j, "profile");
	out << "\n";
	// Held back by the import decision: say why.
	if (j.contains("import-state") && str(j, "import-state") != "installed")
		out << "    not installed: " << str(j, "import-state") << ", "
		    << str(j, "import-reason", "no reason given") << "\n";
}

void sessions(const json &top, std::ostream &out)
{
	out << std::left << std::setw(8) << "VNI" << std::setw(30) << "HOST" << std::setw(8) << "ID"
	    << std::setw(19) << "SERVER" << std::setw(20) << "STATUS" << std::setw(22) << "HOST-AT"
	    << std::setw(22) << "SERVER-AT" << "\n";
	for (const auto &s : list(top, "sessions", "session")) {
		out << std::setw(8) << str(s, "vni") << std::setw(30) << host(s) << std::setw(8)
		    << dest_id(s) << std::setw(19) << dest(s) << std::setw(20) << str(s, "status")
		    << std::setw(22) << location(s.value("host-location", json{})) << std::setw(22)
		    << (s.contains("server-location") ? location(s.at("server-location"))
						      : std::string("routed")) << "\n";
		identity_line(s, out);
	}
}

void roles(const json &top, std::ostream &out)
{
	out << std::left << std::setw(8) << "VNI" << std::setw(30) << "HOST" << std::setw(8) << "ID"
	    << std::setw(8) << "ENTRY1" << std::setw(8) << "ENTRY2" << std::setw(8) << "ENTRY3"
	    << "ACTION\n";
	for (const auto &s : list(top, "sessions", "session")) {
		const auto r = s.value("roles", json::object());
		auto yn = [&](const char *k) { return r.value(k, false) ? "yes" : "no"; };
		out << std::setw(8) << str(s, "vni") << std::setw(30) << host(s) << std::setw(8)
		    << dest_id(s) << std::setw(8) << yn("entry1") << std::setw(8) << yn("entry2")
		    << std::setw(8) << yn("entry3")
		    << (s.contains("action") ? action(s.at("action")) : std::string("-")) << "\n";
	}
}

void entries(const json &top, std::ostream &out)
{
	out << std::left << std::setw(15) << "KIND" << std::setw(8) << "VNI" << std::setw(30)
	    << "HOST" << std::setw(8) << "ID" << std::setw(40) << "ACTION" << std::setw(12)
	    << "PACKETS" << std::setw(10) << "DROPS" << std::setw(10) << "FILTERED" << std::setw(12)
	    << "SAMPLED-OUT" << "POLICED\n";
	for (const auto &e : list(top, "entries", "entry")) {
		const json c = e.value("counters", json::object());
		out << std::setw(15) << str(e, "kind") << std::setw(8) << str(e, "vni") << std::setw(30)
		    << host(e) << std::setw(8) << dest_id(e) << std::setw(40)
		    << action(e.value("action", json::object())) << std::setw(12) << str(c, "packets")
		    << std::setw(10) << str(c, "drops") << std::setw(10) << str(c, "filtered")
		    << std::setw(12) << str(c, "sampled-out") << str(c, "policed") << "\n";
		identity_line(e, out);
	}
}

void collectors(const json &top, std::ostream &out)
{
	out << std::left << std::setw(18) << "COLLECTOR" << std::setw(6) << "SPAN" << std::setw(5)
	    << "VER" << std::setw(6) << "DSCP" << std::setw(5) << "TTL" << std::setw(8) << "GRE"
	    << std::setw(9) << "ENTRIES" << std::setw(12) << "PACKETS" << std::setw(14) << "BYTES"
	    << std::setw(10) << "NO-ROUTE" << std::setw(11) << "MTU-TRUNC" << std::setw(8)
	    << "ERRORS" << "LAST-SEQ\n";
	for (const auto &c : list(top, "collectors", "collector")) {
		const json n = c.value("counters", json::object());
		char gre[8];
		std::snprintf(gre, sizeof(gre), "0x%04x", c.value("gre-protocol", 0u));
		out << std::setw(18) << str(c, "collector") << std::setw(6) << str(c, "span-id")
		    << std::setw(5) << str(c, "erspan-version") << std::setw(6) << str(c, "dscp")
		    << std::setw(5) << str(c, "ttl") << std::setw(8) << gre << std::setw(9)
		    << str(c, "entries") << std::setw(12) << str(n, "packets") << std::setw(14)
		    << str(n, "bytes") << std::setw(10) << str(n, "no-route") << std::setw(11)
		    << str(n, "mtu-truncated") << std::setw(8) << str(n, "errors")
		    << str(n, "last-seq") << "\n";
	}
}

void counters(const json &top, std::ostream &out)
{
	for (const auto &c : list(top, "counters", "counter"))
		out << std::left << std::setw(34) << str(c, "name") << str(c, "value") << "\n";
}

void status(const json &top, std::ostream &out)
{
	if (top.contains("gates"))
		for (const auto &[k, v] : top.at("gates").items())
			out << "gate " << std::left << std::setw(12) << k << (v.get<bool>() ? "open" : "closed")
			    << "\n";
	if (top.contains("fpm"))
		for (const auto &[k, v] : top.at("fpm").items())
			out << "fpm  " << std::setw(12) << k << (v.is_string() ? v.get<std::string>() : v.dump())
			    << "\n";
	if (top.contains("feed"))
		for (const auto &[k, v] : top.at("feed").items())
			out << "feed " << std::setw(12) << k << (v.is_string() ? v.get<std::string>() : v.dump())
			    << "\n";
}

} // namespace

json select_json(const json &doc, const std::string &what)
{
	if (what == "all" || !doc.contains(kTop))
		return doc;
	const auto &top = doc.at(kTop);
	json sel = json::object();
	auto copy = [&](const char *k) {
		if (top.contains(k))
			sel[k] = top.at(k);
	};
	if (what == "sessions" || what == "roles")
		copy("sessions");
	else if (what == "entries")
		copy("entries");
	else if (what == "counters")
		copy("counters");
	else if (what == "collectors")
		copy("collectors");
	else if (what == "status") {
		copy("gates");
		copy("fpm");
		copy("feed");
	}
	return {{kTop, sel}};
}

bool is_history(const json &doc)
{
	const auto top = doc.find(kTop);
	return top != doc.end() && top->is_object() && top->contains("audit");
}

void render_history(const json &doc, std::ostream &out)
{
	const json top = doc.value(kTop, json::object());
	const json audit = top.value("audit", json::object());
	const auto &events = list(top, "audit", "event");
	out << events.size() << " event(s) shown, " << str(audit, "events-total", "0")
	    << " recorded since start, " << str(audit, "capacity", "0") << " kept\n";
	out << std::left << std::setw(8) << "SEQ" << std::setw(26) << "TIME" << std::setw(9)
	    << "EVENT" << std::setw(26) << "DECISION" << "SESSION\n";
	for (const auto &e : events) {
		const std::string previous = str(e, "previous", "none");
		const std::string decision = str(e, "decision") + " (was " +
					     (previous == "none" ? std::string("new") : previous) + ")";
		out << std::setw(8) << str(e, "seq") << std::setw(26) << str(e, "time")
		    << std::setw(9) << str(e, "event") << std::setw(26) << decision
		    << str(e, "session-id") << "\n";
		std::string destination;
		if (e.contains("collector-id"))
			destination = "collector " + str(e, "collector-id") + " " + str(e, "collector-ip");
		else
			destination = "server " + str(e, "host-id") + " " + str(e, "server-mac") + " " +
				      str(e, "server-ip");
		std::string profile = "none";
		if (e.contains("profile-digest"))
			profile = str(e, "profile-name") + "#" + str(e, "profile-digest");
		out << "    originator " << str(e, "originator") << "  vni " << str(e, "vni")
		    << "  host " << host(e) << "  dest " << destination << "  profile " << profile
		    << "\n    reason: " << str(e, "reason", "") << "\n";
	}
}

void render_text(const json &doc, const std::string &what, std::ostream &out)
{
	if (what == "history")
		return render_history(doc, out);
	const json top = doc.value(kTop, json::object());
	const bool all = what == "all";
	if (all || what == "status") {
		if (all)
			out << "== status ==\n";
		status(top, out);
	}
	if (all || what == "sessions") {
		if (all)
			out << "\n== sessions ==\n";
		sessions(top, out);
	}
	if (all || what == "roles") {
		if (all)
			out << "\n== roles ==\n";
		roles(top, out);
	}
	if (all || what == "entries") {
		if (all)
			out << "\n== entries ==\n";
		entries(top, out);
	}
	if (all || what == "collectors") {
		if (all)
			out << "\n== collectors ==\n";
		collectors(top, out);
	}
	if (all || what == "counters") {
		if (all)
			out << "\n== counters ==\n";
		counters(top, out);
	}
}

} // namespace evpnmon::ctl

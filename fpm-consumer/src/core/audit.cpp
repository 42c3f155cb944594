#include "core/audit.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <utility>

namespace evpnmon::consumer {

using nlohmann::json;

const char *to_string(AuditEvent::Kind kind)
{
	switch (kind) {
	case AuditEvent::Kind::Install:
		return "install";
	case AuditEvent::Kind::Update:
		return "update";
	case AuditEvent::Kind::Remove:
		return "remove";
	case AuditEvent::Kind::Deny:
		return "deny";
	case AuditEvent::Kind::Refuse:
		return "refuse";
	case AuditEvent::Kind::Forget:
		return "forget";
	}
	return "install";
}

std::string options_digest(const session::Options &options)
{
	const auto area = options.encode();
	if (area.empty())
		return {};
	std::uint64_t h = 0xcbf29ce484222325ull;
	for (const auto octet : area) {
		h ^= octet;
		h *= 0x100000001b3ull;
	}
	char buf[9];
	std::snprintf(buf, sizeof(buf), "%08x", static_cast<unsigned>((h >> 32) ^ (h & 0xffffffffu)));
	return buf;
}

AuditEvent audit_event(AuditEvent::Kind kind, const Session &s, std::optional<ImportState> previous,
		       std::string reason)
{
	AuditEvent e;
	e.kind = kind;
	e.session = s.id;
	e.originator = s.key.originator;
	e.vni = s.key.vni;
	e.host_mac = s.key.host_mac;
	e.host_ip = s.key.host_ip;
	e.collector = s.is_collector();
	e.dest_id = s.key.host_id;
	if (!e.collector)
		e.server_mac = s.server_mac;
	e.dest_ip = s.server_ip;
	e.profile_name = s.options.c().name;
	e.profile_digest = options_digest(s.options);
	e.decision = s.import_state;
	e.reason = std::move(reason);
	e.previous = previous;
	return e;
}

namespace {

std::string time_text(std::int64_t ms)
{
	const std::time_t t = static_cast<std::time_t>(ms / 1000);
	std::tm tm{};
	gmtime_r(&t, &tm);
	char buf[40];
	const std::size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
	return buf;
}


std::string destination_text(const AuditEvent &e)
{
	if (e.collector)
		return "collector " + std::to_string(e.dest_id) + " " +
		       (e.dest_ip ? format_ip(*e.dest_ip) : "-");
	return "server " + std::to_string(e.dest_id) + " " +
	       (e.server_mac ? format_mac(*e.server_mac) : "-") + " " +
	       (e.dest_ip ? format_ip(*e.dest_ip) : "-");
}

// A quoted field: `"` and `\` escaped, so a name or reason can neither end
// its field early nor make up fields of its own for a parser of the line.
std::string quoted(const std::string &s)
{
	std::string out = "\"";
	for (const char c : s) {
		if (c == '"' || c == '\\')
			out += '\\';
		out += c;
	}
	out += '"';
	return out;
}

// none, or "NAME"#DIGEST (an empty name: "")
std::string profile_text(const AuditEvent &e)
{
	if (e.profile_digest.empty())
		return "none";
	return quoted(e.profile_name) + "#" + e.profile_digest;
}

} // namespace

std::string format_line(const AuditEvent &e)
{
	std::string line = "audit: ";
	line += to_string(e.kind);
	line += " session " + e.session;
	line += " originator " + format_ipv4(e.originator);
	line += " vni " + std::to_string(e.vni);
	line += " host " + (e.host_mac ? format_mac(*e.host_mac) : std::string("-")) + " " +
		(e.host_ip ? format_ip(*e.host_ip) : std::string("-"));
	line += " dest " + destination_text(e);
	line += " profile " + profile_text(e);
	line += " decision ";
	line += to_string(e.decision);
	line += " (was ";
	line += e.previous ? to_string(*e.previous) : "new";
	line += ")";
	line += " reason " + quoted(e.reason);
	return line;
}

json event_json(const AuditEvent &e)
{
	json j;
	j["seq"] = std::to_string(e.seq);
	j["time"] = time_text(e.time_ms);
	j["event"] = to_string(e.kind);
	j["session-id"] = e.session;
	j["originator"] = format_ipv4(e.originator);
	j["vni"] = e.vni;
	if (e.host_mac)
		j["host-mac"] = format_mac(*e.host_mac);
	if (e.host_ip)
		j["host-ip"] = format_ip(*e.host_ip);
	if (e.collector) {
		j["collector-id"] = e.dest_id;
		if (e.dest_ip)
			j["collector-ip"] = format_ip(*e.dest_ip);
	} else {
		j["host-id"] = e.dest_id;
		if (e.server_mac)
			j["server-mac"] = format_mac(*e.server_mac);
		if (e.dest_ip)
			j["server-ip"] = format_ip(*e.dest_ip);
	}
	if (!e.profile_name.empty())
		j["profile-name"] = e.profile_name;
	if (!e.profile_digest.empty())
		j["profile-digest"] = e.profile_digest;
	j["decision"] = to_string(e.decision);
	j["previous"] = e.previous ? to_string(*e.previous) : "none";
	j["reason"] = e.reason;
	return j;
}

AuditLog::AuditLog(std::size_t capacity, Sink sink, Clock clock)
    : capacity_(capacity), sink_(std::move(sink)), clock_(std::move(clock))
{
	if (!clock_)
		clock_ = [] {
			return std::chrono::duration_cast<std::chrono::milliseconds>(
				       std::chrono::system_clock::now().time_since_epoch())
				.count();
		};
}

void AuditLog::record(AuditEvent e)
{
	e.seq = ++total_;
	e.time_ms = clock_();
	++by_kind_[static_cast<std::size_t>(e.kind)];
	if (sink_)
		sink_(e);
	if (capacity_ == 0)
		return;
	if (ring_.size() >= capacity_)
		ring_.pop_front();
	ring_.push_back(std::move(e));
}

std::vector<AuditEvent> AuditLog::last(std::size_t n) const
{
	const std::size_t take = n == 0 || n > ring_.size() ? ring_.size() : n;
	return {ring_.end() - static_cast<std::ptrdiff_t>(take), ring_.end()};
}

AuditLineLimiter::AuditLineLimiter(std::size_t per_second, Clock clock)
    : per_second_(per_second), clock_(std::move(clock))
{
	if (!clock_)
		clock_ = [] {
			return std::chrono::duration_cast<std::chrono::milliseconds>(
				       std::chrono::steady_clock::now().time_since_epoch())
				.count();
		};
}

bool AuditLineLimiter::admit(const AuditEvent &e)
{
	if (!limited(e.kind))
		return true;
	const auto second = clock_() / 1000;
	if (second != second_) {
		second_ = second;
		written_ = 0;
	}
	if (written_ < per_second_) {
		++written_;
		return true;
	}
	++suppressed_;
	++suppressed_total_;
	return false;
}

std::uint64_t AuditLineLimiter::take_suppressed()
{
	if (suppressed_ == 0 || clock_() / 1000 == second_)
		return 0;
	return std::exchange(suppressed_, 0);
}

std::string suppressed_line(std::uint64_t n)
{
	return "audit: " + std::to_string(n) +
	       " more audit events not logged (denials, refusals, withdrawals of held "
	       "sessions over " + std::to_string(kAuditLinesPerSecond) +
	       " a second), see evpnmon-ctl history / counters";
}

json history_json(const AuditLog &log, std::size_t n)
{
	json events = json::array();
	for (const auto &e : log.last(n))
		events.push_back(event_json(e));
	return {{"evpn-monitor:fpm-consumer",
		 {{"audit",
		   {{"capacity", log.capacity()},
		    {"events-total", std::to_string(log.total())},
		    {"event", events}}}}}};
}

} // namespace evpnmon::consumer

// evpn-monitor: C++ value type over a session's options (evpn_mon_options.h).
#include <evpnmon/session/options.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace evpnmon::session {

const evpn_mon_options Options::kNone{};

Options Options::held(const evpn_mon_options &c)
{
	if (std::memcmp(&c, &kNone, sizeof(c)) == 0)
		return Options{};
	return Options{std::make_shared<const evpn_mon_options>(c)};
}

Options::Options(const evpn_mon_options &c)
{
	evpn_mon_options canon = c;
	evpn_mon_options_canonicalize(&canon);
	*this = held(canon);
}

Options Options::decode(std::span<const std::uint8_t> area,
			evpn_mon_opt_error *error)
{
	evpn_mon_options c{};
	evpn_mon_opt_error err = evpn_mon_options_decode(area.data(), area.size(), &c);
	if (error)
		*error = err;
	if (err != EVPN_MON_OPT_OK)
		return Options{};
	return held(c);
}

evpn_mon_opt_error Options::validate() const
{
	return evpn_mon_options_validate(&c());
}

std::vector<std::uint8_t> Options::encode() const
{
	if (!c_)
		return {}; // all zero: no area
	std::vector<std::uint8_t> out(EVPN_MON_OPTIONS_MAX_LEN);
	out.resize(evpn_mon_options_encode(&c(), out.data(), out.size()));
	return out;
}

namespace {

std::string rate_text(std::uint64_t v)
{
	return std::to_string(v);
}

} // namespace

std::string Options::to_string() const
{
	if (!has_profile())
		return "no profile";
	std::string s;
	if (has_erspan()) {
		// the GRE protocol as sent: the version's own when left at 0
		char gre[8];
		std::uint16_t proto = c().erspan.gre_proto ? c().erspan.gre_proto
			: c().erspan.version == 2 ? EVPN_MON_GRE_PROTO_ERSPAN2
						 : EVPN_MON_GRE_PROTO_ERSPAN3;
		std::snprintf(gre, sizeof(gre), "0x%04x", proto);
		s += "erspan " + std::to_string(c().erspan.version) + " span " +
		     std::to_string(c().erspan.span_id) + " dscp " +
		     std::to_string(c().erspan.dscp) + " ttl " +
		     std::to_string(c().erspan.ttl) + " gre " + gre + " ";
	}
	s += "profile ";
	s += c().name[0] ? std::string(c().name, strnlen(c().name, EVPN_MON_PROFILE_NAME_MAX))
			: std::string("-");
	s += " dir ";
	switch (c().direction) {
	case EVPN_MON_DIR_RX:
		s += "rx";
		break;
	case EVPN_MON_DIR_TX:
		s += "tx";
		break;
	case EVPN_MON_DIR_BOTH:
		s += "both";
		break;
	default:
		s += "?" + std::to_string(c().direction);
		break;
	}
	s += " filters " + std::to_string(c().nfilters);
	if (c().sample > 1)
		s += " sample 1/" + std::to_string(c().sample);
	if (c().truncate)
		s += " truncate " + std::to_string(c().truncate);
	switch (c().police_unit) {
	case EVPN_MON_POLICE_PPS:
		s += " police " + rate_text(c().police_rate) + "pps/" +
		     std::to_string(c().police_burst);
		break;
	case EVPN_MON_POLICE_BPS:
		s += " police " + rate_text(c().police_rate) + "bps/" +
		     std::to_string(c().police_burst);
		break;
	default:
		break;
	}
	return s;
}

bool Options::operator==(const Options &o) const
{
	return c_ == o.c_ || evpn_mon_options_equal(&c(), &o.c());
}

std::strong_ordering Options::operator<=>(const Options &o) const
{
	if (*this == o)
		return std::strong_ordering::equal;
	// Encoded bytes give a stable order across processes (no profile,
	// i.e. no area, sorts first). Options that do not encode (invalid)
	// fall back to their canonical struct bytes so the order stays total.
	auto a = encode(), b = o.encode();
	if (a != b)
		return std::lexicographical_compare_three_way(a.begin(), a.end(),
							      b.begin(), b.end());
	int c = std::memcmp(&this->c(), &o.c(), sizeof(evpn_mon_options));
	return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
}

} // namespace evpnmon::session

// evpn-monitor: C++ value type over a session's options (evpn_mon_options.h).
#include <evpnmon/session/options.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace evpnmon::session {

Options::Options(const evpn_mon_options &c) : c_(c)
{
	evpn_mon_options_canonicalize(&c_);
}

Options Options::decode(std::span<const std::uint8_t> area,
			evpn_mon_opt_error *error)
{
	Options o;
	evpn_mon_opt_error err = evpn_mon_options_decode(area.data(), area.size(), &o.c_);
	if (error)
		*error = err;
	if (err != EVPN_MON_OPT_OK)
		return Options{};
	return o;
}

evpn_mon_opt_error Options::validate() const
{
	return evpn_mon_options_validate(&c_);
}

std::vector<std::uint8_t> Options::encode() const
{
	std::vector<std::uint8_t> out(EVPN_MON_OPTIONS_MAX_LEN);
	out.resize(evpn_mon_options_encode(&c_, out.data(), out.size()));
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
		std::uint16_t proto = c_.erspan.gre_proto ? c_.erspan.gre_proto
			: c_.erspan.version == 2 ? EVPN_MON_GRE_PROTO_ERSPAN2
						 : EVPN_MON_GRE_PROTO_ERSPAN3;
		std::snprintf(gre, sizeof(gre), "0x%04x", proto);
		s += "erspan " + std::to_string(c_.erspan.version) + " span " +
		     std::to_string(c_.erspan.span_id) + " dscp " +
		     std::to_string(c_.erspan.dscp) + " ttl " +
		     std::to_string(c_.erspan.ttl) + " gre " + gre + " ";
	}
	s += "profile ";
	s += c_.name[0] ? std::string(c_.name, strnlen(c_.name, EVPN_MON_PROFILE_NAME_MAX))
			: std::string("-");
	s += " dir ";
	switch (c_.direction) {
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
		s += "?" + std::to_string(c_.direction);
		break;
	}
	s += " filters " + std::to_string(c_.nfilters);
	if (c_.sample > 1)
		s += " sample 1/" + std::to_string(c_.sample);
	if (c_.truncate)
		s += " truncate " + std::to_string(c_.truncate);
	switch (c_.police_unit) {
	case EVPN_MON_POLICE_PPS:
		s += " police " + rate_text(c_.police_rate) + "pps/" +
		     std::to_string(c_.police_burst);
		break;
	case EVPN_MON_POLICE_BPS:
		s += " police " + rate_text(c_.police_rate) + "bps/" +
		     std::to_string(c_.police_burst);
		break;
	default:
		break;
	}
	return s;
}

bool Options::operator==(const Options &o) const
{
	return evpn_mon_options_equal(&c_, &o.c_);
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
	int c = std::memcmp(&c_, &o.c_, sizeof(c_));
	return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
}

} // namespace evpnmon::session

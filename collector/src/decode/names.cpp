// Printable names: addresses, encapsulations and decode error reasons.
#include "decode/decode.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace evpnmon::collector {

IpAddr IpAddr::v4(std::uint32_t network_order)
{
	IpAddr a;
	std::memcpy(a.bytes.data(), &network_order, 4);
	return a;
}

std::string IpAddr::to_string() const
{
	char buf[INET6_ADDRSTRLEN] = {};
	if (!inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf))
		return {};
	return buf;
}

const char *to_string(Encap encap)
{
	switch (encap) {
	case Encap::ErspanI:
		return "erspan-i";
	case Encap::ErspanII:
		return "erspan-ii";
	case Encap::ErspanIII:
		return "erspan-iii";
	case Encap::VxlanGbp:
		return "vxlan-gbp";
	case Encap::Port:
		return "port";
	}
	return "unknown";
}

const char *to_string(DecodeError e)
{
	switch (e) {
	case DecodeError::None:
		return "none";
	case DecodeError::Truncated:
		return "truncated";
	case DecodeError::NotIpv4:
		return "not_ipv4";
	case DecodeError::BadIpHeader:
		return "bad_ip_header";
	case DecodeError::IpFragment:
		return "ip_fragment";
	case DecodeError::NotGre:
		return "not_gre";
	case DecodeError::GreFlags:
		return "gre_flags";
	case DecodeError::GreVersion:
		return "gre_version";
	case DecodeError::GreProtocol:
		return "gre_protocol";
	case DecodeError::ErspanVersion:
		return "erspan_version";
	case DecodeError::ErspanFrameType:
		return "erspan_frame_type";
	case DecodeError::NotVxlan:
		return "not_vxlan";
	case DecodeError::VxlanFlags:
		return "vxlan_flags";
	case DecodeError::BadEthernet:
		return "bad_ethernet";
	case DecodeError::BadVlan:
		return "bad_vlan";
	case DecodeError::BadIp:
		return "bad_ip";
	case DecodeError::BadTcp:
		return "bad_tcp";
	case DecodeError::BadUdp:
		return "bad_udp";
	case DecodeError::BadBth:
		return "bad_bth";
	case DecodeError::Count_:
		break;
	}
	return "unknown";
}

} // namespace evpnmon::collector

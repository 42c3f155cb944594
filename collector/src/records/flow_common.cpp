#include "records/flow_common.hpp"

#include <arpa/inet.h>

namespace evpnmon::collector::records {

std::string format_ip(const IpAddr &ip)
{
	char buf[INET6_ADDRSTRLEN];
	if (!inet_ntop(ip.v6 ? AF_INET6 : AF_INET, ip.bytes.data(), buf, sizeof buf))
		return {};
	return buf;
}

std::uint32_t SessionTable::intern(const v1::SessionRef *ref)
{
	static const v1::SessionRef none;
	if (!ref)
		ref = &none;
	if (have_last_ && refs_[last_].name() == ref->name())
		return last_;
	auto it = index_.find(std::string_view(ref->name()));
	if (it != index_.end()) {
		last_ = it->second;
		have_last_ = true;
		return last_;
	}
	const auto idx = static_cast<std::uint32_t>(refs_.size());
	refs_.push_back(*ref);
	refs_.back().clear_source();
	index_.emplace(ref->name(), idx);
	last_ = idx;
	have_last_ = true;
	return idx;
}

void fill_session(v1::SessionRef &out, const v1::SessionRef &session, const std::string &source)
{
	out = session;
	out.set_source(source);
}

} // namespace evpnmon::collector::records

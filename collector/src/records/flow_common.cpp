#include "records/flow_common.hpp"

#include <arpa/inet.h>

namespace evpnmon::collector::records {

std::string format_ip(const IpAddr &ip)
{
	std::string s;
	format_ip(ip, s);
	return s;
}

void format_ip(const IpAddr &ip, std::string &out)
{
	out.clear();
	if (!ip.v6) {
		// inet_ntop goes through printf: too slow for a record per few
		// copies.
		char buf[16];
		char *p = buf;
		for (int i = 0; i < 4; ++i) {
			unsigned v = ip.bytes[i];
			if (v >= 100)
				*p++ = static_cast<char>('0' + v / 100);
			if (v >= 10)
				*p++ = static_cast<char>('0' + v / 10 % 10);
			*p++ = static_cast<char>('0' + v % 10);
			*p++ = '.';
		}
		out.assign(buf, static_cast<std::size_t>(p - buf - 1));
		return;
	}
	char buf[INET6_ADDRSTRLEN];
	if (inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof buf))
		out.assign(buf);
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
	out.CopyFrom(session);
	out.set_source(source);
}

namespace {

google::protobuf::ArenaOptions arena_options(char *block, std::size_t size)
{
	google::protobuf::ArenaOptions o;
	o.initial_block = block;
	o.initial_block_size = size;
	return o;
}

} // namespace

RecordArena::RecordArena() : arena_(arena_options(block_, kBlock)) {}

v1::Envelope &RecordArena::envelope()
{
	auto *env = google::protobuf::Arena::CreateMessage<v1::Envelope>(&arena_);
	env->set_version(v1::VERSION_1);
	return *env;
}

} // namespace evpnmon::collector::records

// Test helper: the smallest Dataplane that keeps entries in a map and lets a
// test inject local MAC events and failures. Used where the real in-memory
// backend is not needed (or not built).
#pragma once

#include <evpnmon/dataplane/dataplane.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace evpnmon::test {

class FakeDataplane : public dp::Dataplane {
public:
	// Key -> what install() was given last, options included.
	std::map<dp::EntryKey, dp::Entry> entries;
	// Every call in order, for tests of how changes are applied
	// (an update in place is one install of the same key, no remove).
	struct Call {
		enum class Op { Install, Remove } op;
		dp::Entry entry; // Remove: the key only
	};
	std::vector<Call> calls;
	std::uint64_t install_calls = 0, remove_calls = 0;
	bool fail_installs = false;
	// Installs of new keys beyond this many entries fail as a full map does.
	std::size_t capacity = SIZE_MAX;

	std::error_code install(const dp::Entry &e) override
	{
		++install_calls;
		if (fail_installs)
			return std::make_error_code(std::errc::no_space_on_device);
		if (e.action.kind == dp::Action::Kind::Server && !targets.contains(e.action.server))
			return std::make_error_code(std::errc::no_such_device_or_address);
		if (!entries.contains(e.key) && entries.size() >= capacity)
			return std::make_error_code(std::errc::argument_list_too_long);
		calls.push_back({Call::Op::Install, e});
		if (auto old = entries.find(e.key); old != entries.end())
			leave(old->second);
		entries[e.key] = e;
		return {};
	}
	std::error_code remove(const dp::EntryKey &k) override
	{
		++remove_calls;
		calls.push_back({Call::Op::Remove, dp::Entry{k, {}, {}}});
		if (auto old = entries.find(k); old != entries.end())
			leave(old->second);
		entries.erase(k);
		return {};
	}
	// calls.size() at each begin_batch().
	std::vector<std::size_t> batched_at;
	void begin_batch() override
	{
		batched_at.push_back(calls.size());
		batch_open = true;
	}
	// calls.size() at each flush(); fail_flush: flush() fails.
	std::vector<std::size_t> flushed_at;
	bool fail_flush = false;
	std::error_code flush() override
	{
		flushed_at.push_back(calls.size());
		batch_open = false;
		named_until_flush.clear();
		if (fail_flush)
			return std::make_error_code(std::errc::not_enough_memory);
		return {};
	}

	// Servers, as the backends keep them, when `with_servers` (otherwise
	// not supported, as a dataplane without them): a removed entry names
	// its server until the batch's flush.
	bool with_servers = false;
	std::map<dp::ServerKey, dp::Action> targets;
	std::uint64_t set_server_calls = 0;
	bool fail_set_server = false; // as a backend refusing the write
	// remove_server() of a server an entry still names (refused, as the
	// linux backend refuses it): a consumer that counts a server's users
	// too low tries it.
	std::uint64_t refused_server_removals = 0;
	bool batch_open = false;
	std::set<dp::ServerKey> named_until_flush;
	void leave(const dp::Entry &e)
	{
		if (batch_open && e.action.kind == dp::Action::Kind::Server)
			named_until_flush.insert(e.action.server);
	}
	std::error_code set_server(const dp::ServerKey &k, const dp::Action &target) override
	{
		if (!with_servers)
			return Dataplane::set_server(k, target);
		++set_server_calls;
		if (fail_set_server)
			return std::make_error_code(std::errc::io_error);
		targets[k] = target;
		return {};
	}
	std::error_code remove_server(const dp::ServerKey &k) override
	{
		if (!with_servers)
			return Dataplane::remove_server(k);
		auto busy = [this] {
			++refused_server_removals;
			return std::make_error_code(std::errc::device_or_resource_busy);
		};
		if (named_until_flush.contains(k))
			return busy();
		for (const auto &[_, e] : entries)
			if (e.action.kind == dp::Action::Kind::Server && e.action.server == k)
				return busy();
		targets.erase(k);
		return {};
	}
	std::vector<std::pair<dp::ServerKey, dp::Action>> servers() const override
	{
		return {targets.begin(), targets.end()};
	}
	bool supports_servers() const override { return with_servers; }
	std::vector<dp::Entry> list() const override
	{
		std::vector<dp::Entry> out;
		for (const auto &[k, e] : entries)
			out.push_back(e);
		return out;
	}
	std::optional<dp::Counters> counters(const dp::EntryKey &k) const override
	{
		if (!entries.contains(k))
			return std::nullopt;
		return dp::Counters{};
	}
	void set_mac_listener(MacListener l) override { listener = std::move(l); }
	void dump_macs() override {}
	int event_fd() const override { return -1; }
	void process_events() override {}
	std::string port_name(std::uint32_t ifindex) const override
	{
		return "port" + std::to_string(ifindex);
	}
	// What erspan_counters() reports (a test sets it).
	std::vector<std::pair<dp::Erspan, dp::ErspanCounters>> erspan;
	std::vector<std::pair<dp::Erspan, dp::ErspanCounters>> erspan_counters() const override
	{
		return erspan;
	}
	MacListener listener;

	// Decapsulation sources: a set, as the backends keep them (adding a
	// present pair or removing an absent one succeeds). Every call is
	// recorded so that tests can check idempotence and deferral.
	std::set<std::pair<std::uint32_t, dp::IpAddr>> decap;
	struct DecapCall {
		bool add;
		std::uint32_t vni;
		dp::IpAddr vtep;
	};
	std::vector<DecapCall> decap_calls;
	// Adds of new pairs beyond this many fail as a full table does.
	std::size_t decap_capacity = SIZE_MAX;
	std::error_code add_decap_source(std::uint32_t vni, const dp::IpAddr &vtep) override
	{
		decap_calls.push_back({true, vni, vtep});
		if (!decap.contains({vni, vtep}) && decap.size() >= decap_capacity)
			return std::make_error_code(std::errc::no_buffer_space);
		decap.insert({vni, vtep});
		return {};
	}
	std::error_code remove_decap_source(std::uint32_t vni, const dp::IpAddr &vtep) override
	{
		decap_calls.push_back({false, vni, vtep});
		decap.erase({vni, vtep});
		return {};
	}
	std::vector<std::pair<std::uint32_t, dp::IpAddr>> decap_sources() const override
	{
		return {decap.begin(), decap.end()};
	}
	// What decap_drops() / ceiling_counters() report (a test sets them).
	dp::DecapDrops drops;
	dp::CeilingCounters ceiling;
	dp::DecapDrops decap_drops() const override { return drops; }
	dp::CeilingCounters ceiling_counters() const override { return ceiling; }
};

} // namespace evpnmon::test

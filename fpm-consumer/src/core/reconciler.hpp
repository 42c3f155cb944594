// fpm-consumer core: level-triggered reconciliation. Diff the desired entry
// set against what the dataplane has and apply only the difference; correct
// entries are never touched.
//
// Servers: entries 1/2 of server sessions name their server
// (Action::Kind::Server), and the server's target comes from the desired
// ServerMap, set with Dataplane::set_server() before the first entry that
// names it. A server's move changes its target alone: one write, whatever
// the number of entries naming it. A server no installed entry names is
// removed after the pass's flush. A dataplane without servers
// (Dataplane::supports_servers()) gets the entries with their targets as
// their own actions instead (none while the target is Unresolved), and a
// server's move rewrites them.
#pragma once

#include "core/model.hpp"

#include <evpnmon/dataplane/dataplane.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace evpnmon::consumer {

struct ReconcileStats {
	std::uint64_t installed = 0; // new keys
	std::uint64_t replaced = 0;  // same key, new action or options (updated in place)
	std::uint64_t removed = 0;
	std::uint64_t unchanged = 0;
	std::uint64_t server_moves = 0; // a server's target changed
	std::uint64_t errors = 0;          // every failed operation, full maps included
	std::uint64_t capacity_errors = 0; // installs refused for lack of room
	std::string last_error;
};

class Reconciler {
public:
	explicit Reconciler(dp::Dataplane &dataplane) : dp_(dataplane) {}

	// Re-read the dataplane (start-up, after errors, periodic audit): the
	// view made what the dataplane holds, in place.
	void refresh()
	{
		begin_refresh();
		refresh_part(SIZE_MAX);
	}
	// The same in parts, other passes between them (the audit's, at
	// 100,000 entries): begin_refresh() reads the servers, each
	// refresh_part() the next `budget` of the dataplane's entries at most,
	// and erases `budget` at most of the view's keys the dataplane lacks
	// (a dataplane emptied behind the consumer's back is erased from the
	// view in parts too); true once the last is read. A pass between the parts
	// writes a key to the dataplane and to the view together, so a part
	// reads each key as the passes left it. Until the last part no server
	// is removed: an entry not read yet may name one the view thinks idle.
	void begin_refresh();
	bool refresh_part(std::size_t budget);
	bool refreshing() const { return refreshing_; }
	// Whole diff. An entry whose key is installed but whose action or
	// options differ is install()ed again under the same key: the dataplane
	// updates it in place, so the session is never without its entry nor
	// copied twice. `servers`: the targets of the servers entries name.
	ReconcileStats apply(const EntryMap &desired, const ServerMap &servers);
	// The same for the listed keys and servers only (the rest is known to
	// agree), and, with `retry`, the keys and servers whose last operation
	// failed.
	ReconcileStats apply(const EntryMap &desired, const ServerMap &servers,
			     const std::vector<dp::EntryKey> &keys,
			     const std::vector<dp::ServerKey> &moved, bool retry);
	// The whole diff in parts (the audit's repair): the keys from `from`
	// on (the first part: none), `budget` of them at most (desired and
	// installed together; what is left of it stays there), added to `st`.
	// Returns where the next part starts; none when the diff is done.
	// Unlike apply(), it leaves the keys and servers that failed before
	// to their retry.
	std::optional<dp::EntryKey> apply_part(const EntryMap &desired, const ServerMap &servers,
					       const std::optional<dp::EntryKey> &from,
					       std::size_t &budget, ReconcileStats &st);

	// False until the first read of the dataplane.
	bool in_sync() const { return loaded_; }
	// Keys whose last install or removal failed (a full map keeps them
	// here until there is room, other errors until the backend accepts
	// them); retried on their own.
	const std::set<dp::EntryKey> &failed() const { return failed_; }
	// Servers set that no installed entry names: removed at a pass's
	// flush (not while a re-read is under way).
	bool idle_servers() const { return !idle_.empty(); }
	// Keys or server targets waiting for a retry.
	bool retry_wanted() const { return !failed_.empty() || !failed_servers_.empty(); }
	const EntryMap &installed() const { return installed_; }
	// The servers set in the dataplane, and their targets.
	const std::map<dp::ServerKey, dp::Action> &servers() const { return servers_; }

private:
	// One key: make the dataplane hold `want` (null: nothing).
	void converge(const dp::EntryKey &key, const EntrySpec *want, const ServerMap &servers,
		      ReconcileStats &st);
	// The same with installed_'s element for `key` (or its end) known.
	void converge(const dp::EntryKey &key, const EntrySpec *want, const ServerMap &servers,
		      ReconcileStats &st, EntryMap::iterator have);
	// One server: its target in the dataplane as `servers` has it (the
	// entries naming it, in a dataplane without servers).
	void retarget(const std::set<dp::ServerKey> &moved, const EntryMap &desired,
		      const ServerMap &servers, std::vector<dp::EntryKey> &work, ReconcileStats &st);
	// The end of a pass: the dataplane writes what it batched; then the
	// servers nothing names any more go.
	void flush(ReconcileStats &st);
	// The spec as this dataplane holds it: `want` itself, or, without
	// servers, `own` filled with it and its server's target.
	const EntrySpec *held(const EntrySpec &want, const ServerMap &servers, EntrySpec &own) const;
	// The server `want` names set to its target (before an entry names it).
	std::error_code place_server(const EntrySpec &want, const ServerMap &servers,
				     ReconcileStats &st);
	// One more (+1) or one fewer (-1) installed entry names spec's server.
	void use(const EntrySpec &spec, int delta);

	dp::Dataplane &dp_;
	EntryMap installed_;
	std::set<dp::EntryKey> failed_;
	std::set<dp::ServerKey> failed_servers_; // a new target not written
	bool loaded_ = false;
	// A re-read under way, and the key its next part starts at (none:
	// the first).
	bool refreshing_ = false;
	std::optional<dp::EntryKey> refresh_from_;
	bool servers_supported_ = false; // asked at each re-read
	std::map<dp::ServerKey, dp::Action> servers_;
	std::map<dp::ServerKey, std::size_t> users_; // installed entries naming each
	std::set<dp::ServerKey> idle_;              // set, named by none: removed at the flush
};

} // namespace evpnmon::consumer

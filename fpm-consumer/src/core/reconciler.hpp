// fpm-consumer core: level-triggered reconciliation. Diff the desired entry
// set against what the dataplane has and apply only the difference; correct
// entries are never touched.
//
// Servers: an entry naming a server (EntrySpec::server) is installed as
// naming it, and the server's target is the entry's action, set with
// Dataplane::set_server() before the first entry that needs it. When a
// server moves, every entry naming it wants the new action: the first one
// converged sets the server's new target, which moves all of them in the
// dataplane at once, and the others only follow in the cache (`followed`).
// A server no installed entry names is removed after the pass's flush. A
// dataplane without servers (Dataplane::supports_servers()) gets the
// entries with their own actions instead.
#pragma once

#include "core/model.hpp"

#include <evpnmon/dataplane/dataplane.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace evpnmon::consumer {

struct ReconcileStats {
	std::uint64_t installed = 0; // new keys
	std::uint64_t replaced = 0;  // same key, new action or options (updated in place)
	std::uint64_t removed = 0;
	std::uint64_t unchanged = 0;
	// Entries whose new action was their server's move: the dataplane
	// moved them with the server's target, no write of their own.
	std::uint64_t followed = 0;
	std::uint64_t server_moves = 0; // a server's target changed
	std::uint64_t errors = 0;          // every failed operation, full maps included
	std::uint64_t capacity_errors = 0; // installs refused for lack of room
	std::string last_error;
};

class Reconciler {
public:
	explicit Reconciler(dp::Dataplane &dataplane) : dp_(dataplane) {}

	// Re-read the dataplane (start-up, after errors, periodic audit).
	void refresh();
	// Whole diff. An entry whose key is installed but whose action or
	// options differ is install()ed again under the same key: the dataplane
	// updates it in place, so the session is never without its entry nor
	// copied twice.
	ReconcileStats apply(const EntryMap &desired);
	// The same for the listed keys only (the rest is known to agree), and,
	// with `retry`, the keys whose last operation failed.
	ReconcileStats apply(const EntryMap &desired, const std::vector<dp::EntryKey> &keys,
			     bool retry);

	// False until the first read of the dataplane.
	bool in_sync() const { return loaded_; }
	// Keys whose last install or removal failed (a full map keeps them
	// here until there is room, other errors until the backend accepts
	// them); retried on their own.
	const std::set<dp::EntryKey> &failed() const { return failed_; }
	const EntryMap &installed() const { return installed_; }
	// The servers set in the dataplane, and their targets.
	const std::map<dp::ServerKey, dp::Action> &servers() const { return servers_; }

private:
	// One key: make the dataplane hold `want` (null: nothing).
	void converge(const dp::EntryKey &key, const EntrySpec *want, ReconcileStats &st);
	// The end of a pass: the dataplane writes what it batched; then the
	// servers nothing names any more go.
	void flush(ReconcileStats &st);
	// The spec as this dataplane holds it (no server where it has none):
	// `want` itself, or `own` filled with it without its server.
	const EntrySpec &held(const EntrySpec &want, EntrySpec &own) const;
	// The server of `want` set to its action (before an entry names it).
	std::error_code place_server(const EntrySpec &want, ReconcileStats &st);
	// One more (+1) or one fewer (-1) installed entry names spec's server.
	void use(const EntrySpec &spec, int delta);

	dp::Dataplane &dp_;
	EntryMap installed_;
	std::set<dp::EntryKey> failed_;
	bool loaded_ = false;
	bool servers_supported_ = false; // asked at each re-read
	std::map<dp::ServerKey, dp::Action> servers_;
	std::map<dp::ServerKey, std::size_t> users_; // installed entries naming each
	std::set<dp::ServerKey> idle_;              // set, named by none: removed at the flush
};

} // namespace evpnmon::consumer

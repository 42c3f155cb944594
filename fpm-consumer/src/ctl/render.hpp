// evpnmon-ctl: render the daemon's state document (RFC 7951 JSON) as text.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>

namespace evpnmon::ctl {

inline constexpr const char *kTop = "evpn-monitor:fpm-consumer";

// `what`: sessions | roles | entries | collectors | counters | status | all,
// or history (the document the daemon answers "history [N]" with).
void render_text(const nlohmann::json &doc, const std::string &what, std::ostream &out);
// The same selection as JSON, still a valid instance of the YANG module.
nlohmann::json select_json(const nlohmann::json &doc, const std::string &what);
// Is `doc` an answer to "history"? A daemon that predates the audit
// answers any request with its state, which has no `audit`.
bool is_history(const nlohmann::json &doc);
// The audit history as text: one event per row, its details indented.
void render_history(const nlohmann::json &doc, std::ostream &out);

} // namespace evpnmon::ctl

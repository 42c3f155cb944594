#include "watch/watch.hpp"

#include <CLI/CLI.hpp>
#include <google/protobuf/util/json_util.h>
#include <zmq.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string_view>
#include <vector>

namespace evpnmon::collector::watch {

namespace {

// "14:02:03.123456" UTC, or "-" for 0.
std::string clock_time(std::uint64_t ns)
{
	if (ns == 0)
		return "-";
	const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
	std::tm tm{};
	gmtime_r(&secs, &tm);
	char buf[32];
	std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06u", tm.tm_hour, tm.tm_min, tm.tm_sec,
		      static_cast<unsigned>((ns % 1'000'000'000) / 1000));
	return buf;
}

// A duration in ms with µs resolution: "0.123"; "-" for 0 (not measured).
std::string millis(std::uint64_t ns)
{
	if (ns == 0)
		return "-";
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1e6);
	return buf;
}

std::string uptime(std::uint64_t ns)
{
	std::uint64_t s = ns / 1'000'000'000;
	char buf[48];
	std::snprintf(buf, sizeof buf, "%llud%02lluh%02llum%02llus",
		      static_cast<unsigned long long>(s / 86400), static_cast<unsigned long long>(s / 3600 % 24),
		      static_cast<unsigned long long>(s / 60 % 60), static_cast<unsigned long long>(s % 60));
	return buf;
}

std::string endpoint(const std::string &host, std::uint32_t port)
{
	if (host.find(':') != std::string::npos)
		return "[" + host + "]:" + std::to_string(port);
	return host + ":" + std::to_string(port);
}

const char *outcome(v1::TcpRecord::Outcome o)
{
	switch (o) {
	case v1::TcpRecord::ESTABLISHED:
		return "established";
	case v1::TcpRecord::REFUSED:
		return "refused";
	case v1::TcpRecord::TIMED_OUT:
		return "timed-out";
	case v1::TcpRecord::UNSEEN:
		return "unseen";
	default:
		return "-";
	}
}

const char *close_reason(v1::TcpRecord::CloseReason r)
{
	switch (r) {
	case v1::TcpRecord::FIN:
		return "fin";
	case v1::TcpRecord::RST:
		return "rst";
	case v1::TcpRecord::IDLE:
		return "idle";
	case v1::TcpRecord::EVICTED:
		return "evicted";
	case v1::TcpRecord::SHUTDOWN:
		return "shutdown";
	default:
		return "open";
	}
}

using Row = std::vector<std::string>;

// Columns padded to their widest cell, two spaces apart; the last column is
// not padded (no trailing blanks).
std::vector<std::string> table(const Row &header, const std::vector<Row> &rows)
{
	std::vector<std::size_t> widths(header.size(), 0);
	auto measure = [&](const Row &r) {
		for (std::size_t i = 0; i < r.size() && i < widths.size(); ++i)
			widths[i] = std::max(widths[i], r[i].size());
	};
	measure(header);
	for (const auto &r : rows)
		measure(r);
	auto line = [&](const Row &r) {
		std::string out;
		for (std::size_t i = 0; i < r.size() && i < widths.size(); ++i) {
			if (i + 1 < r.size()) {
				out += r[i];
				out.append(widths[i] - r[i].size() + 2, ' ');
			} else {
				out += r[i];
			}
		}
		return out;
	};
	std::vector<std::string> out;
	out.push_back(line(header));
	for (const auto &r : rows)
		out.push_back(line(r));
	return out;
}

std::string u(std::uint64_t v)
{
	return std::to_string(v);
}

// The current file without its directory (the session's directory): keeps
// the table narrow.
std::string file_name(const std::string &path)
{
	if (path.empty())
		return "-";
	const auto slash = path.rfind('/');
	return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool same_qp(const v1::RoceRecord &a, const v1::RoceRecord &b)
{
	return a.session().name() == b.session().name() && a.src_ip() == b.src_ip() &&
	       a.dst_ip() == b.dst_ip() && a.dest_qp() == b.dest_qp();
}

} // namespace

std::string to_json_line(const v1::Envelope &envelope)
{
	google::protobuf::util::JsonPrintOptions options;
	options.add_whitespace = false;
	options.preserve_proto_field_names = true;
	// Zero counters are printed: a reader sees every field of the schema.
	options.always_print_primitive_fields = true;
	options.always_print_enums_as_ints = false;
	std::string out;
	const auto status = google::protobuf::util::MessageToJsonString(envelope, &out, options);
	if (!status.ok())
		return "{}";
	return out;
}

void View::apply(const v1::Envelope &e)
{
	++received_;
	switch (e.body_case()) {
	case v1::Envelope::kSession:
		sessions_[e.session().session().name()] = e.session();
		break;
	case v1::Envelope::kStatus:
		status_ = e.status();
		have_status_ = true;
		break;
	case v1::Envelope::kTcp: {
		// A connection's CLOSE record replaces its HANDSHAKE record.
		const auto it = std::find_if(tcp_.begin(), tcp_.end(), [&](const v1::TcpRecord &r) {
			return !e.tcp().uid().empty() && r.uid() == e.tcp().uid();
		});
		if (it != tcp_.end())
			tcp_.erase(it);
		tcp_.push_front(e.tcp());
		if (tcp_.size() > max_records_)
			tcp_.pop_back();
		break;
	}
	case v1::Envelope::kRoce: {
		const auto it = std::find_if(roce_.begin(), roce_.end(),
					     [&](const v1::RoceRecord &r) { return same_qp(r, e.roce()); });
		if (it != roce_.end())
			roce_.erase(it);
		roce_.push_front(e.roce());
		if (roce_.size() > max_records_)
			roce_.pop_back();
		break;
	}
	case v1::Envelope::BODY_NOT_SET:
		break;
	}
}

std::string View::render(std::size_t width, std::size_t rows) const
{
	std::vector<std::string> lines;
	if (have_status_) {
		lines.push_back("up " + uptime(status_.uptime_ns()) +
				"  disk " + (status_.disk_full() ? "FULL (writing stopped)" : "ok") +
				"  decode errors " + u(status_.decode_errors()) +
				"  unknown session " + u(status_.unknown_session()) +
				"  flows " + u(status_.flow_table_entries()) +
				"  evictions " + u(status_.flow_evictions()));
	} else {
		lines.push_back("(no status yet)");
	}
	lines.emplace_back();

	std::vector<Row> srows;
	for (const auto &[name, s] : sessions_) {
		srows.push_back({name, u(s.copies()), u(s.bytes()), u(s.losses()), u(s.truncated()),
				 u(s.files_written()), u(s.write_errors()), u(s.tcp_records()),
				 u(s.roce_records()), file_name(s.current_file())});
		for (const auto &src : s.sources())
			srows.push_back({"  " + src.source(), u(src.copies()), "", u(src.losses()), "", "", "",
					 "", "", "seq " + u(src.last_seq()) + " reordered " + u(src.reordered())});
	}
	for (auto &l : table({"SESSION/SOURCE", "COPIES", "BYTES", "LOSSES", "TRUNC", "FILES", "WERR", "TCP",
			      "ROCE", "FILE"},
			     srows))
		lines.push_back(std::move(l));
	if (sessions_.empty())
		lines.push_back("(no session yet)");

	// The record lists share what rows remain.
	const std::size_t fixed = lines.size() + 6; // blank + title + header, twice
	std::size_t per_list = max_records_;
	if (rows > 0)
		per_list = rows > fixed ? std::min(max_records_, (rows - fixed) / 2) : 0;

	lines.emplace_back();
	lines.push_back("TCP connections, latest first");
	std::vector<Row> trows;
	for (const auto &r : tcp_) {
		if (trows.size() >= per_list)
			break;
		trows.push_back({clock_time(r.ts_ns()), r.session().name(),
				 endpoint(r.id_orig_h(), r.id_orig_p()) + " > " + endpoint(r.id_resp_h(), r.id_resp_p()),
				 u(r.vni()), outcome(r.outcome()), millis(r.handshake_ns()),
				 millis(r.syn_to_synack_ns()), millis(r.synack_to_ack_ns()),
				 u(r.syn_retransmissions()), r.conn_state().empty() ? "-" : r.conn_state(),
				 close_reason(r.close_reason()),
				 u(r.orig_pkts()) + "/" + u(r.resp_pkts()),
				 u(r.orig_bytes()) + "/" + u(r.resp_bytes())});
	}
	for (auto &l : table({"START", "SESSION", "ORIG > RESP", "VNI", "OUTCOME", "HS_MS", "SYN>SA_MS",
			      "SA>ACK_MS", "SYNRTX", "STATE", "CLOSE", "PKTS O/R", "BYTES O/R"},
			     trows))
		lines.push_back(std::move(l));

	lines.emplace_back();
	lines.push_back("RoCEv2 queue pairs, latest first");
	std::vector<Row> rrows;
	for (const auto &r : roce_) {
		if (rrows.size() >= per_list)
			break;
		char rate[32];
		std::snprintf(rate, sizeof rate, "%.1f", r.cnp_rate());
		rrows.push_back({clock_time(r.last_seen_ns()), r.session().name(),
				 r.src_ip() + " > " + r.dst_ip(), u(r.dest_qp()), u(r.cnp()), rate,
				 u(r.nak_psn_sequence_error()), u(r.nak_invalid_request()),
				 u(r.nak_remote_access_error()), u(r.nak_remote_operational_error()),
				 u(r.rnr_nak()), u(r.nak_other()),
				 r.nak_psn_sequence_error() + r.nak_invalid_request() + r.nak_remote_access_error() +
						 r.nak_remote_operational_error() + r.rnr_nak() + r.nak_other() ==
					 0
				     ? "-"
				     : u(r.last_nak_psn()),
				 r.final() ? "final" : ""});
	}
	for (auto &l : table({"LAST", "SESSION", "SRC > DST", "QP", "CNP", "CNP/S", "NAK_SEQ", "NAK_INV",
			      "NAK_ACC", "NAK_OP", "RNR", "NAK_OTHER", "LAST_NAK_PSN", ""},
			     rrows))
		lines.push_back(std::move(l));

	if (rows > 0 && lines.size() > rows)
		lines.resize(rows);
	std::string out;
	for (auto &l : lines) {
		while (!l.empty() && l.back() == ' ')
			l.pop_back();
		if (width > 0 && l.size() > width)
			l.resize(width);
		out += l;
		out += '\n';
	}
	return out;
}

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int)
{
	g_stop = 1;
}

struct Options {
	std::string connect = kDefaultEndpoint;
	bool json = false;
	std::uint64_t count = 0;
	double timeout = 0;
	double refresh = 1.0;
	std::vector<std::string> topics;
};

using Clock = std::chrono::steady_clock;

// The RAII owner of a ZeroMQ context and SUB socket (plain libzmq: EINTR
// from zmq_poll must be a return value, not an exception).
struct Sub {
	void *ctx = nullptr;
	void *sock = nullptr;
	~Sub()
	{
		if (sock)
			zmq_close(sock);
		if (ctx)
			zmq_ctx_term(ctx);
	}
};

// Receives one two-frame message; nullopt when none is waiting. A message
// of another shape or an Envelope that does not parse sets `bad`.
std::optional<v1::Envelope> receive(void *sock, bool &bad)
{
	bad = false;
	std::vector<std::string> frames;
	int more = 0;
	do {
		zmq_msg_t msg;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sock, frames.empty() ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(&msg);
			if (!frames.empty())
				bad = true;
			return std::nullopt;
		}
		frames.emplace_back(static_cast<const char *>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
		more = zmq_msg_more(&msg);
		zmq_msg_close(&msg);
	} while (more);
	v1::Envelope e;
	if (frames.size() != 2 || !e.ParseFromString(frames[1])) {
		bad = true;
		return std::nullopt;
	}
	return e;
}

std::pair<std::size_t, std::size_t> terminal_size()
{
	winsize ws{};
	if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0)
		return {ws.ws_col, ws.ws_row};
	return {0, 0};
}

} // namespace

} // namespace evpnmon::collector::watch

namespace evpnmon::collector {

int watch_main(int argc, char **argv)
{
	using namespace watch;
	Options o;
	CLI::App app{"Subscribe to an evpnmon-collector's record stream and show it: a live table of the "
		     "sessions and the latest TCP and RoCEv2 records, or one JSON object per line (--json)",
		     "evpnmon-collector watch"};
	app.add_option("--connect,-c", o.connect, "ZeroMQ endpoint of the collector's --publish")
		->capture_default_str();
	app.add_flag("--json", o.json,
		     "One JSON object per line per received Envelope (protobuf JSON mapping, .proto field names)");
	app.add_option("--count,-n", o.count, "Exit after N envelopes (0: no limit)")->capture_default_str();
	app.add_option("--timeout,-t", o.timeout,
		       "Exit after S seconds (0: no limit); exit code 3 if --count was not reached")
		->check(CLI::NonNegativeNumber)
		->capture_default_str();
	app.add_option("--topic", o.topics, "Subscribe to these topics only (default: all)")
		->check(CLI::IsMember({"tcp", "roce", "session", "status"}));
	app.add_option("--refresh", o.refresh, "Table refresh period in seconds")
		->check(CLI::PositiveNumber)
		->capture_default_str();
	try {
		app.parse(argc, argv);
	} catch (const CLI::CallForHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForAllHelp &e) {
		return app.exit(e);
	} catch (const CLI::ParseError &e) {
		app.exit(e);
		return 2;
	}

	// Before connecting: once subscribed, a signal must find the handler.
	struct sigaction sa{};
	sa.sa_handler = on_signal; // no SA_RESTART: zmq_poll returns EINTR
	sigemptyset(&sa.sa_mask);
	struct sigaction old_int{}, old_term{};
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	g_stop = 0;
	struct RestoreSignals {
		struct sigaction *i, *t;
		~RestoreSignals()
		{
			sigaction(SIGINT, i, nullptr);
			sigaction(SIGTERM, t, nullptr);
		}
	} restore{&old_int, &old_term};

	Sub sub;
	sub.ctx = zmq_ctx_new();
	sub.sock = sub.ctx ? zmq_socket(sub.ctx, ZMQ_SUB) : nullptr;
	if (!sub.sock) {
		std::fprintf(stderr, "watch: cannot create a ZeroMQ socket: %s\n", zmq_strerror(zmq_errno()));
		return 1;
	}
	const int linger = 0;
	zmq_setsockopt(sub.sock, ZMQ_LINGER, &linger, sizeof linger);
	if (o.topics.empty())
		o.topics.emplace_back();
	for (const auto &t : o.topics)
		zmq_setsockopt(sub.sock, ZMQ_SUBSCRIBE, t.data(), t.size());
	if (zmq_connect(sub.sock, o.connect.c_str()) != 0) {
		std::fprintf(stderr, "watch: cannot connect to '%s': %s\n", o.connect.c_str(),
			     zmq_strerror(zmq_errno()));
		return 1;
	}


	const bool tty = !o.json && ::isatty(STDOUT_FILENO) == 1;
	const auto start = Clock::now();
	const bool has_deadline = o.timeout > 0;
	const Clock::time_point deadline =
		start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout));
	const auto refresh = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.refresh));
	View view;
	std::uint64_t received = 0, bad = 0;
	bool dirty = true, drawn = false, reached = false;
	auto next_draw = start;

	auto draw = [&] {
		std::string screen;
		std::size_t width = 0, rows = 0;
		if (tty) {
			std::tie(width, rows) = terminal_size();
			screen += "\x1b[H"; // home; each line clears its rest, the end clears below
		}
		// counts first: they survive a narrow window
		std::string title = "received " + std::to_string(received) +
				    (bad ? "  bad " + std::to_string(bad) : "") + "  from " + o.connect +
				    "  (evpnmon-collector watch)";
		// rows - 2: the title takes one, and the last newline must not scroll
		std::string body = view.render(width, rows > 2 ? rows - 2 : 0);
		if (tty) {
			if (width > 0 && title.size() > width)
				title.resize(width);
			screen += title + "\x1b[K\n";
			for (std::size_t pos = 0; pos < body.size();) {
				const auto nl = body.find('\n', pos);
				screen += body.substr(pos, nl - pos) + "\x1b[K\n";
				pos = nl + 1;
			}
			screen += "\x1b[J";
		} else {
			screen += title + "\n" + body + "\n";
		}
		std::fwrite(screen.data(), 1, screen.size(), stdout);
		std::fflush(stdout);
		dirty = false;
		drawn = true;
	};
	if (tty)
		std::fputs("\x1b[2J", stdout);

	int rc = 0;
	while (!g_stop) {
		const auto now = Clock::now();
		if (has_deadline && now >= deadline)
			break;
		if (!o.json && (tty || dirty) && now >= next_draw) {
			if (tty || received > 0)
				draw();
			next_draw = now + refresh;
		}
		Clock::duration wait = has_deadline ? deadline - now : Clock::duration(std::chrono::hours(1));
		if (!o.json)
			wait = std::min<Clock::duration>(wait, std::max<Clock::duration>(next_draw - now, {}));
		const long ms = static_cast<long>(
			std::chrono::ceil<std::chrono::milliseconds>(wait).count());
		zmq_pollitem_t item{sub.sock, 0, ZMQ_POLLIN, 0};
		const int n = zmq_poll(&item, 1, ms);
		if (n < 0) {
			if (zmq_errno() == EINTR)
				continue;
			std::fprintf(stderr, "watch: %s\n", zmq_strerror(zmq_errno()));
			rc = 1;
			break;
		}
		for (;;) {
			bool broken = false;
			auto e = receive(sub.sock, broken);
			if (broken) {
				++bad;
				continue;
			}
			if (!e)
				break;
			++received;
			if (o.json) {
				std::string line = to_json_line(*e);
				line += '\n';
				std::fwrite(line.data(), 1, line.size(), stdout);
				std::fflush(stdout);
			} else {
				view.apply(*e);
				dirty = true;
			}
			if (o.count > 0 && received >= o.count) {
				reached = true;
				break;
			}
		}
		if (reached)
			break;
	}
	if (!o.json && (dirty || !drawn))
		draw();
	if (o.count > 0 && !reached && !g_stop) {
		std::fprintf(stderr, "watch: %llu of %llu envelopes received before the timeout\n",
			     static_cast<unsigned long long>(received), static_cast<unsigned long long>(o.count));
		rc = rc ? rc : 3;
	}
	return rc;
}

} // namespace evpnmon::collector

// The watch subscriber: the --json line format, the table (View), and
// watch_main end to end against a Publisher (in a child process: it owns
// stdout).
#include <doctest/doctest.h>

#include "publish/publisher.hpp"
#include "sub_helper.hpp"
#include "watch/watch.hpp"

#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace evpnmon::collector;
using nlohmann::json;

namespace {

v1::Envelope tcp_record(const std::string &uid, v1::TcpRecord::Event event)
{
	v1::Envelope e;
	e.set_version(v1::VERSION_1);
	auto *t = e.mutable_tcp();
	t->mutable_session()->set_name("span-7");
	t->mutable_session()->set_source("10.0.0.1");
	t->set_event(event);
	t->set_uid(uid);
	t->set_ts_ns(1'764'000'000'123'456'789ull);
	t->set_id_orig_h("10.1.0.1");
	t->set_id_orig_p(40000);
	t->set_id_resp_h("fd00::2");
	t->set_id_resp_p(443);
	t->set_vni(1000);
	t->set_syn_to_synack_ns(100'000);
	t->set_synack_to_ack_ns(23'000);
	t->set_handshake_ns(123'000);
	t->set_outcome(v1::TcpRecord::ESTABLISHED);
	t->mutable_orig_options()->set_mss(1460);
	t->mutable_orig_options()->set_window_scale(7);
	t->mutable_resp_options()->set_window_scale(-1);
	if (event == v1::TcpRecord::CLOSE) {
		t->set_close_reason(v1::TcpRecord::FIN);
		t->set_conn_state("SF");
		t->set_orig_pkts(10);
		t->set_resp_pkts(8);
	}
	return e;
}

v1::Envelope session_stats(const std::string &name, std::uint64_t copies)
{
	v1::Envelope e;
	e.set_version(v1::VERSION_1);
	auto *s = e.mutable_session();
	s->mutable_session()->set_name(name);
	s->set_copies(copies);
	s->set_bytes(copies * 64);
	s->set_losses(3);
	s->set_truncated(2);
	s->set_files_written(1);
	s->set_current_file("/var/lib/evpnmon/" + name + "/x.pcapng");
	auto *src = s->add_sources();
	src->set_source("10.0.0.1");
	src->set_copies(copies);
	src->set_last_seq(77);
	return e;
}

v1::Envelope roce_record(std::uint32_t qp, std::uint64_t cnp)
{
	v1::Envelope e;
	e.set_version(v1::VERSION_1);
	auto *r = e.mutable_roce();
	r->mutable_session()->set_name("span-7");
	r->set_src_ip("10.1.0.1");
	r->set_dst_ip("10.1.0.2");
	r->set_dest_qp(qp);
	r->set_cnp(cnp);
	r->set_cnp_rate(2.5);
	r->set_nak_psn_sequence_error(1);
	r->set_last_nak_psn(0x123456);
	return e;
}

std::string read_file(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

std::vector<std::string> lines_of(const std::string &text)
{
	std::vector<std::string> out;
	std::istringstream in(text);
	for (std::string l; std::getline(in, l);)
		out.push_back(l);
	return out;
}

// Runs watch_main(args) in a child with stdout to a file; returns its pid.
pid_t spawn_watch(const std::vector<std::string> &args, const std::string &out_path)
{
	const pid_t pid = ::fork();
	if (pid == 0) {
		const int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			::_exit(100);
		::dup2(fd, STDOUT_FILENO);
		::close(fd);
		std::vector<std::string> copy = args;
		std::vector<char *> argv;
		for (auto &a : copy)
			argv.push_back(a.data());
		argv.push_back(nullptr);
		const int rc = watch_main(static_cast<int>(copy.size()), argv.data());
		std::fflush(stdout);
		::_exit(rc);
	}
	return pid;
}

// Exit status of the child, -1 if it did not end within 20 s (killed).
int wait_child(pid_t pid)
{
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
	int status = 0;
	while (std::chrono::steady_clock::now() < deadline) {
		const pid_t r = ::waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	::kill(pid, SIGKILL);
	::waitpid(pid, &status, 0);
	return -1;
}

std::string temp_path(const char *tag)
{
	return std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/evpnmon-watch-" + tag +
	       "-" + std::to_string(::getpid()) + ".out";
}

} // namespace

TEST_CASE("--json line: one object, protobuf JSON mapping with .proto field names")
{
	const std::string line = watch::to_json_line(tcp_record("CAbc", v1::TcpRecord::HANDSHAKE));
	CHECK(line.find('\n') == std::string::npos);
	const json j = json::parse(line);
	REQUIRE(j.is_object());
	CHECK(j.at("version") == "VERSION_1");
	REQUIRE(j.contains("tcp"));
	CHECK(!j.contains("roce"));
	const json &t = j.at("tcp");
	CHECK(t.at("uid") == "CAbc");
	CHECK(t.at("event") == "HANDSHAKE");
	CHECK(t.at("outcome") == "ESTABLISHED");
	CHECK(t.at("id_orig_h") == "10.1.0.1");
	CHECK(t.at("id_orig_p") == 40000);                // 32-bit: a number
	CHECK(t.at("handshake_ns") == "123000");          // 64-bit: a string (the mapping's rule)
	CHECK(t.at("ts_ns") == "1764000000123456789");
	CHECK(t.at("syn_retransmissions") == 0);          // defaults printed
	CHECK(t.at("close_reason") == "CLOSE_UNSPECIFIED");
	CHECK(t.at("orig_options").at("mss") == 1460);
	CHECK(t.at("orig_options").at("window_scale") == 7);
	CHECK(t.at("resp_options").at("window_scale") == -1);
	CHECK(t.at("session").at("name") == "span-7");

	const json r = json::parse(watch::to_json_line(roce_record(17, 4)));
	CHECK(r.at("roce").at("dest_qp") == 17);
	CHECK(r.at("roce").at("cnp") == "4");
	CHECK(r.at("roce").at("cnp_rate") == 2.5);
	CHECK(r.at("roce").at("final") == false);

	v1::Envelope st;
	(*st.mutable_status()->mutable_decode_errors_by_reason())["gre_flags"] = 2;
	const json s = json::parse(watch::to_json_line(st));
	CHECK(s.at("status").at("decode_errors_by_reason").at("gre_flags") == "2");
	CHECK(s.at("status").at("disk_full") == false);
}

TEST_CASE("View: sessions, sources, latest records; CLOSE replaces HANDSHAKE; width and rows")
{
	watch::View view(5);
	view.apply(session_stats("span-7", 1000));
	view.apply(session_stats("vni-1000-host-21", 5));
	view.apply(session_stats("span-7", 1200)); // newer snapshot replaces
	v1::Envelope st;
	st.mutable_status()->set_uptime_ns(3'723'000'000'000);
	st.mutable_status()->set_disk_full(true);
	view.apply(st);
	view.apply(tcp_record("C1", v1::TcpRecord::HANDSHAKE));
	view.apply(tcp_record("C2", v1::TcpRecord::HANDSHAKE));
	view.apply(tcp_record("C1", v1::TcpRecord::CLOSE));
	view.apply(roce_record(17, 4));
	view.apply(roce_record(17, 9)); // same QP: replaces
	view.apply(roce_record(18, 1));
	CHECK(view.received() == 10);
	CHECK(view.sessions().size() == 2);
	CHECK(view.sessions().at("span-7").copies() == 1200);

	const std::string screen = view.render();
	INFO(screen);
	CHECK(screen.find('\x1b') == std::string::npos);
	CHECK(screen.find("up 0d01h02m03s") != std::string::npos);
	CHECK(screen.find("disk FULL") != std::string::npos);
	CHECK(screen.find("span-7") != std::string::npos);
	CHECK(screen.find("vni-1000-host-21") != std::string::npos);
	CHECK(screen.find("1200") != std::string::npos);
	CHECK(screen.find("76800") != std::string::npos); // bytes
	CHECK(screen.find("  10.0.0.1") != std::string::npos);
	CHECK(screen.find("10.1.0.1:40000 > [fd00::2]:443") != std::string::npos);
	CHECK(screen.find("0.123") != std::string::npos); // handshake ms
	// one row per connection: C1's CLOSE replaced its HANDSHAKE row
	const auto lines = lines_of(screen);
	int tcp_rows = 0, fin_rows = 0, qp17_rows = 0;
	for (const auto &l : lines) {
		tcp_rows += l.find("[fd00::2]:443") != std::string::npos;
		fin_rows += l.find(" fin ") != std::string::npos;
		qp17_rows += l.find(" 17 ") != std::string::npos;
	}
	CHECK(tcp_rows == 2);
	CHECK(fin_rows == 1);
	CHECK(qp17_rows == 1);
	CHECK(screen.find(" 9 ") != std::string::npos);

	for (const auto &l : lines_of(view.render(40, 0)))
		CHECK(l.size() <= 40);
	CHECK(lines_of(view.render(0, 12)).size() <= 12);

	// more records than the view keeps: oldest go
	for (int i = 0; i < 20; ++i)
		view.apply(tcp_record("X" + std::to_string(i), v1::TcpRecord::HANDSHAKE));
	int rows = 0;
	for (const auto &l : lines_of(view.render()))
		rows += l.find("[fd00::2]:443") != std::string::npos;
	CHECK(rows == 5);
}

TEST_CASE("watch_main: usage errors and timeouts")
{
	std::string a0 = "watch", a1 = "--topic", a2 = "bogus";
	char *bad[] = {a0.data(), a1.data(), a2.data(), nullptr};
	CHECK(watch_main(3, bad) == 2);

	// nobody publishes: --count not reached before --timeout -> 3
	std::string c1 = "--connect", c2 = "tcp://127.0.0.1:9", j = "--json", n1 = "--count", n2 = "5",
		    t1 = "--timeout", t2 = "0.2";
	char *to[] = {a0.data(), c1.data(), c2.data(), j.data(), n1.data(), n2.data(), t1.data(), t2.data(), nullptr};
	const auto start = std::chrono::steady_clock::now();
	CHECK(watch_main(8, to) == 3);
	CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
	// --timeout alone is a normal end
	char *to2[] = {a0.data(), c1.data(), c2.data(), j.data(), t1.data(), t2.data(), nullptr};
	CHECK(watch_main(6, to2) == 0);
}

TEST_CASE("watch --json end to end: one JSON line per envelope, --count ends it")
{
	Publisher pub("tcp://127.0.0.1:0", {.send_hwm = 1000, .linger_ms = 1000});
	const std::string out = temp_path("json");
	const pid_t pid = spawn_watch({"watch", "--connect", pub.endpoint(), "--json", "--count", "4",
				       "--timeout", "15"},
				      out);
	REQUIRE(pid > 0);
	REQUIRE(evpnmon::test::wait_subscribed(pub, 1));
	pub.publish(tcp_record("C1", v1::TcpRecord::HANDSHAKE));
	pub.publish(roce_record(17, 4));
	pub.publish(session_stats("span-7", 10));
	v1::Envelope st;
	st.mutable_status()->set_flow_evictions(3);
	pub.publish(st);
	CHECK(wait_child(pid) == 0);

	const auto lines = lines_of(read_file(out));
	std::remove(out.c_str());
	REQUIRE(lines.size() == 4);
	const json l0 = json::parse(lines[0]), l1 = json::parse(lines[1]), l2 = json::parse(lines[2]),
		   l3 = json::parse(lines[3]);
	CHECK(l0.at("tcp").at("uid") == "C1");
	CHECK(l1.at("roce").at("dest_qp") == 17);
	CHECK(l2.at("session").at("copies") == "10");
	CHECK(l3.at("status").at("flow_evictions") == "3");
	CHECK(l3.at("version") == "VERSION_1"); // stamped by the publisher
}

TEST_CASE("watch --topic filters; table output is plain when stdout is not a terminal")
{
	Publisher pub("tcp://127.0.0.1:0", {.send_hwm = 1000, .linger_ms = 1000});
	const std::string out = temp_path("table");
	const pid_t pid = spawn_watch({"watch", "--connect", pub.endpoint(), "--topic", "session", "--topic",
				       "tcp", "--count", "2", "--timeout", "15"},
				      out);
	REQUIRE(pid > 0);
	REQUIRE(evpnmon::test::wait_subscribed(pub, 2)); // two prefixes
	pub.publish(roce_record(17, 4));                  // filtered out: not counted
	pub.publish(session_stats("span-42", 31337));
	pub.publish(tcp_record("C9", v1::TcpRecord::CLOSE));
	CHECK(wait_child(pid) == 0);
	const std::string text = read_file(out);
	std::remove(out.c_str());
	INFO(text);
	CHECK(text.find('\x1b') == std::string::npos);
	CHECK(text.find("received 2") != std::string::npos);
	CHECK(text.find("span-42") != std::string::npos);
	CHECK(text.find("31337") != std::string::npos);
	CHECK(text.find(" SF ") != std::string::npos);
	CHECK(text.find("10.1.0.2") == std::string::npos); // the RoCE record's address
}

TEST_CASE("watch ends with 0 on SIGTERM")
{
	Publisher pub("tcp://127.0.0.1:0", {.send_hwm = 1000, .linger_ms = 0});
	const std::string out = temp_path("signal");
	const pid_t pid = spawn_watch({"watch", "--connect", pub.endpoint(), "--json"}, out);
	REQUIRE(pid > 0);
	// subscribed = the handler is installed (it is set up before the poll loop)
	REQUIRE(evpnmon::test::wait_subscribed(pub, 1));
	pub.publish(roce_record(1, 1));
	::kill(pid, SIGTERM);
	CHECK(wait_child(pid) == 0);
	std::remove(out.c_str());
}

TEST_CASE("watch on a terminal: redrawn in place with ANSI, cut to the window")
{
	const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
	REQUIRE(master >= 0);
	REQUIRE(::grantpt(master) == 0);
	REQUIRE(::unlockpt(master) == 0);
	const std::string slave_name = ::ptsname(master);
	winsize ws{};
	ws.ws_col = 70;
	ws.ws_row = 20;
	const int slave = ::open(slave_name.c_str(), O_RDWR | O_NOCTTY);
	REQUIRE(slave >= 0);
	REQUIRE(::ioctl(slave, TIOCSWINSZ, &ws) == 0);
	termios tio{};
	::tcgetattr(slave, &tio);
	::cfmakeraw(&tio); // no \n -> \r\n: the test sees what watch wrote
	::tcsetattr(slave, TCSANOW, &tio);

	Publisher pub("tcp://127.0.0.1:0", {.send_hwm = 1000, .linger_ms = 1000});
	const pid_t pid = ::fork();
	if (pid == 0) {
		::dup2(slave, STDOUT_FILENO);
		::close(slave);
		::close(master);
		std::string ep = pub.endpoint();
		std::vector<std::string> args = {"watch", "--connect", ep, "--count", "3", "--timeout", "15"};
		std::vector<char *> argv;
		for (auto &a : args)
			argv.push_back(a.data());
		argv.push_back(nullptr);
		::_exit(watch_main(static_cast<int>(args.size()), argv.data()));
	}
	::close(slave);
	REQUIRE(evpnmon::test::wait_subscribed(pub, 1));
	pub.publish(session_stats("span-7", 99));
	pub.publish(tcp_record("C1", v1::TcpRecord::HANDSHAKE));
	pub.publish(tcp_record("C2", v1::TcpRecord::HANDSHAKE));

	// read until the child has exited and the pty is drained
	std::string text;
	int rc = -1;
	const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
	for (;;) {
		pollfd p{master, POLLIN, 0};
		if (::poll(&p, 1, 100) > 0) {
			char buf[4096];
			const ssize_t n = ::read(master, buf, sizeof buf);
			if (n > 0) {
				text.append(buf, static_cast<std::size_t>(n));
				continue;
			}
			if (n < 0 && rc != -1)
				break; // EIO: the slave side is closed
		}
		int status = 0;
		if (rc == -1 && ::waitpid(pid, &status, WNOHANG) == pid)
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : -2;
		else if (rc != -1)
			break;
		if (std::chrono::steady_clock::now() > deadline) {
			::kill(pid, SIGKILL);
			::waitpid(pid, &status, 0);
			break;
		}
	}
	::close(master);
	CHECK(rc == 0);
	INFO(text);
	CHECK(text.find("\x1b[2J") != std::string::npos); // cleared once
	CHECK(text.find("\x1b[H") != std::string::npos);  // then redrawn from home
	CHECK(text.find("\x1b[K") != std::string::npos);
	CHECK(text.find("received 3") != std::string::npos);
	// the last screen fits the 70x20 window: lines cut, no more rows than fit
	const auto last = text.rfind("\x1b[H");
	REQUIRE(last != std::string::npos);
	std::string screen = text.substr(last + 3);
	std::size_t rows = 0;
	for (const auto &l : lines_of(screen)) {
		std::string plain;
		for (std::size_t i = 0; i < l.size(); ++i) {
			if (l[i] == '\x1b') { // skip CSI sequences
				while (i < l.size() && !std::isalpha(static_cast<unsigned char>(l[i])))
					++i;
				continue;
			}
			plain += l[i];
		}
		CHECK(plain.size() <= 70);
		rows += !plain.empty() || l.find("\x1b[K") != std::string::npos;
	}
	CHECK(rows <= 19);
	CHECK(screen.find("received 3") != std::string::npos);
	CHECK(screen.find("span-7") != std::string::npos);
	CHECK(screen.find("10.1.0.1:40000") != std::string::npos); // a record row still fits
}

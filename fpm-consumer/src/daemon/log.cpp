#include "daemon/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace evpnmon::consumer::log {

namespace {
Level g_level = Level::Info;
const char *g_program = "fpm-consumer";
const char *names[] = {"error", "warn", "info", "debug"};
} // namespace

void set_level(Level level) { g_level = level; }
void set_program(const char *name) { g_program = name; }
bool enabled(Level level) { return level <= g_level; }

void write(Level level, const std::string &message)
{
	const auto now = std::chrono::system_clock::now();
	const std::time_t t = std::chrono::system_clock::to_time_t(now);
	const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
	std::tm tm{};
	gmtime_r(&t, &tm);
	char ts[32];
	std::strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	std::fprintf(stderr, "%s.%03lld %s %s: %s\n", ts, static_cast<long long>(ms), g_program,
		     names[static_cast<int>(level)], message.c_str());
}

Level parse_level(const std::string &text)
{
	for (int i = 0; i < 4; ++i)
		if (text == names[i])
			return static_cast<Level>(i);
	throw std::invalid_argument("unknown log level '" + text + "'");
}

} // namespace evpnmon::consumer::log

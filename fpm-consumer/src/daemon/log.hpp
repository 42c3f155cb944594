// Minimal leveled logging to stderr (journald/syslog pick it up from there).
#pragma once

#include <sstream>
#include <string>

namespace evpnmon::consumer::log {

enum class Level { Error = 0, Warn = 1, Info = 2, Debug = 3 };
void set_level(Level level);
// The daemon's name in every line (default "fpm-consumer").
void set_program(const char *name);
bool enabled(Level level);
void write(Level level, const std::string &message);
Level parse_level(const std::string &text);

} // namespace evpnmon::consumer::log

#define FPMC_LOG(level, expr)                                                                      \
	do {                                                                                       \
		if (::evpnmon::consumer::log::enabled(level)) {                                    \
			std::ostringstream fpmc_log_os_;                                           \
			fpmc_log_os_ << expr;                                                      \
			::evpnmon::consumer::log::write(level, fpmc_log_os_.str());                \
		}                                                                                  \
	} while (0)
#define LOG_ERROR(expr) FPMC_LOG(::evpnmon::consumer::log::Level::Error, expr)
#define LOG_WARN(expr) FPMC_LOG(::evpnmon::consumer::log::Level::Warn, expr)
#define LOG_INFO(expr) FPMC_LOG(::evpnmon::consumer::log::Level::Info, expr)
#define LOG_DEBUG(expr) FPMC_LOG(::evpnmon::consumer::log::Level::Debug, expr)

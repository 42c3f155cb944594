#include "daemon/prometheus_text.hpp"

#include <charconv>
#include <cmath>

namespace evpnmon::consumer {

namespace {
std::string escape(std::string_view text, bool quote)
{
	std::string out;
	out.reserve(text.size());
	for (char ch : text) {
		if (ch == '\\')
			out += "\\\\";
		else if (ch == '\n')
			out += "\\n";
		else if (quote && ch == '"')
			out += "\\\"";
		else
			out += ch;
	}
	return out;
}
} // namespace

std::string escape_label_value(std::string_view value) { return escape(value, true); }
std::string escape_help(std::string_view text) { return escape(text, false); }

std::string format_metric_value(double value)
{
	if (std::isnan(value))
		return "NaN";
	if (std::isinf(value))
		return value > 0 ? "+Inf" : "-Inf";
	char buf[64];
	const auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::general);
	if (ec != std::errc())
		return "NaN";
	return std::string(buf, p);
}

void PrometheusWriter::family(std::string_view name, std::string_view type, std::string_view help)
{
	out_ += "# HELP ";
	out_ += name;
	out_ += ' ';
	out_ += escape_help(help);
	out_ += "\n# TYPE ";
	out_ += name;
	out_ += ' ';
	out_ += type;
	out_ += '\n';
}

void PrometheusWriter::sample(std::string_view name, const Labels &labels, std::string_view value)
{
	out_ += name;
	if (!labels.empty()) {
		out_ += '{';
		bool first = true;
		for (const auto &[k, v] : labels) {
			if (!first)
				out_ += ',';
			first = false;
			out_ += k;
			out_ += "=\"";
			out_ += escape_label_value(v);
			out_ += '"';
		}
		out_ += '}';
	}
	out_ += ' ';
	out_ += value;
	out_ += '\n';
}

} // namespace evpnmon::consumer

// Writing the Prometheus text exposition format 0.0.4: families (HELP,
// TYPE) and samples with escaped label values. Shared by the fpm-consumer's
// and the collector's metrics.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evpnmon::consumer {

// Label values escape \ " and newline; HELP text escapes \ and newline.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view text);
// A sample value or an `le` bound: shortest round-trip decimal, +Inf, -Inf, NaN.
std::string format_metric_value(double value);

class PrometheusWriter {
public:
	using Labels = std::vector<std::pair<std::string, std::string>>;

	void family(std::string_view name, std::string_view type, std::string_view help);
	void sample(std::string_view name, const Labels &labels, std::string_view value);
	void sample(std::string_view name, const Labels &labels, std::uint64_t value)
	{
		sample(name, labels, std::to_string(value));
	}
	std::string take() { return std::move(out_); }

private:
	std::string out_;
};

} // namespace evpnmon::consumer

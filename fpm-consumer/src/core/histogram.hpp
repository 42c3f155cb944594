// fpm-consumer core: a fixed-bucket histogram (Prometheus semantics: an
// observation v falls in the first bucket whose upper bound b has v <= b;
// above the last bound it falls in +Inf). Counts are kept per bucket;
// the metrics renderer makes them cumulative. Pure, no clock.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace evpnmon::consumer {

class Histogram {
public:
	// `upper_bounds`: finite and strictly increasing (+Inf is implicit).
	explicit Histogram(std::vector<double> upper_bounds)
	    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0)
	{
		for (std::size_t i = 0; i < bounds_.size(); ++i)
			if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
				throw std::invalid_argument("histogram bounds must be finite and increasing");
	}

	void observe(double value)
	{
		if (std::isnan(value))
			return;
		const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
		++counts_[static_cast<std::size_t>(it - bounds_.begin())];
		++count_;
		sum_ += value;
	}

	const std::vector<double> &bounds() const { return bounds_; }
	// counts()[i]: observations in (bounds[i-1], bounds[i]]; the last one:
	// above the last bound (+Inf). Not cumulative.
	const std::vector<std::uint64_t> &counts() const { return counts_; }
	std::uint64_t count() const { return count_; }
	double sum() const { return sum_; }

private:
	std::vector<double> bounds_;
	std::vector<std::uint64_t> counts_;
	std::uint64_t count_ = 0;
	double sum_ = 0;
};

// Buckets of the reconcile duration, in seconds: a pass takes tens of
// microseconds with a few sessions and about 7 ms with 10,000 (plus the
// dataplane updates it applies).
inline std::vector<double> reconcile_duration_buckets()
{
	return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
		0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
}

} // namespace evpnmon::consumer

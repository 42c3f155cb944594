// RAII TC attachment of a BPF program on a device's clsact ingress (or
// egress) hook
// (libbpf bpf_tc_*). A fixed handle/priority lets a new run replace what a
// previous run left (BPF_TC_F_REPLACE) instead of stacking a second copy.
#pragma once

#include <cstdint>
#include <string>

namespace evpnmon::dp::linux_dp {

inline constexpr std::uint32_t kTcHandle = 0xe7a0;
inline constexpr std::uint32_t kTcPriority = 1;

class TcFilter {
public:
	// Throws std::system_error.
	TcFilter(int ifindex, int prog_fd, std::string what, bool egress = false);
	~TcFilter();
	TcFilter(TcFilter &&o) noexcept;
	TcFilter &operator=(TcFilter &&) = delete;
	TcFilter(const TcFilter &) = delete;
	TcFilter &operator=(const TcFilter &) = delete;

	int ifindex() const { return ifindex_; }
	// Leave the filter in place on destruction (keep_on_exit).
	void release() { ifindex_ = 0; }

private:
	int ifindex_ = 0;
	bool created_qdisc_ = false;
	bool egress_ = false;
};

} // namespace evpnmon::dp::linux_dp

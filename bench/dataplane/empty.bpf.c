// Reference for bench_linux.sh: an empty TC program (cost of the clsact
// hook + cls_bpf alone, without the mirror logic).
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
SEC("tc") int empty(struct __sk_buff *skb) { return TC_ACT_OK; }
char LICENSE[] SEC("license") = "GPL";

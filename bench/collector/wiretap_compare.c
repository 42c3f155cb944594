/* Not built by CMake (libwiretap-dev is deliberately not a dependency):
 * the measurement behind docs/collector.md "Why we write pcapng ourselves".
 * Writes N 64-octet Ethernet copies to a pcapng file with Wireshark's
 * libwiretap (Debian libwiretap-dev 4.0), the same content as
 * evpnmon-collector's FileSet writes: 3 interfaces (if_tsresol 9),
 * epb_flags on every packet, epb_dropcount every 1000th, a comment every
 * 997th. argv: file N [noopt]. Prints packets/s.
 *
 * Headers unpacked, not installed: apt-get download libwiretap-dev
 * libwireshark-dev libwsutil-dev libglib2.0-dev; for d in *.deb; do dpkg -x $d R; done
 * gcc -O2 -o wiretap_compare bench/collector/wiretap_compare.c -IR/usr/include/wireshark
 *   -IR/usr/include/glib-2.0 -IR/usr/lib/x86_64-linux-gnu/glib-2.0/include
 *   /usr/lib/x86_64-linux-gnu/libwiretap.so.13 /usr/lib/x86_64-linux-gnu/libwsutil.so.14
 *   /usr/lib/x86_64-linux-gnu/libglib-2.0.so.0 */
#include <wireshark/wiretap/wtap.h>
#include <wireshark/wiretap/wtap_opttypes.h>
#include <wsutil/wslog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	const char *path = argv[1];
	long n = atol(argv[2]);
	int noopt = argc > 3;
	ws_log_init("wiretap_compare", NULL);
	ws_log_set_level(LOG_LEVEL_WARNING);
	wtap_init(FALSE);
	wtap_dump_params params = WTAP_DUMP_PARAMS_INIT;
	params.encap = WTAP_ENCAP_ETHERNET;
	params.snaplen = 0;
	params.tsprec = WTAP_TSPREC_NSEC;
	wtapng_iface_descriptions_t idb;
	idb.interface_data = g_array_new(FALSE, FALSE, sizeof(wtap_block_t));
	const char *names[] = {"erspan:10.0.0.1", "erspan:10.0.0.2", "erspan:10.0.0.3"};
	for (int i = 0; i < 3; ++i) {
		wtap_block_t b = wtap_block_create(WTAP_BLOCK_IF_ID_AND_INFO);
		wtapng_if_descr_mandatory_t *m = wtap_block_get_mandatory_data(b);
		m->wtap_encap = WTAP_ENCAP_ETHERNET;
		m->time_units_per_second = 1000000000;
		m->tsprecision = WTAP_TSPREC_NSEC;
		m->snap_len = 0;
		wtap_block_add_string_option(b, OPT_IDB_NAME, names[i], strlen(names[i]));
		wtap_block_add_uint8_option(b, OPT_IDB_TSRESOL, 9);
		g_array_append_val(idb.interface_data, b);
	}
	params.idb_inf = &idb;
	int err = 0;
	gchar *err_info = NULL;
	wtap_dumper *d = wtap_dump_open(path, wtap_pcapng_file_type_subtype(), WTAP_UNCOMPRESSED, &params,
					&err, &err_info);
	if (!d) {
		fprintf(stderr, "open: %d %s\n", err, err_info ? err_info : "");
		return 1;
	}
	guint8 data[64];
	memset(data, 0xab, sizeof data);
	wtap_rec rec;
	memset(&rec, 0, sizeof rec);
	rec.rec_type = REC_TYPE_PACKET;
	rec.presence_flags = WTAP_HAS_TS | WTAP_HAS_CAP_LEN | WTAP_HAS_INTERFACE_ID;
	rec.tsprec = WTAP_TSPREC_NSEC;
	rec.rec_header.packet_header.caplen = 64;
	rec.rec_header.packet_header.len = 64;
	rec.rec_header.packet_header.pkt_encap = WTAP_ENCAP_ETHERNET;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; ++i) {
		unsigned long long ts = 1796290200ull * 1000000000ull + 1000ull * i;
		rec.ts.secs = ts / 1000000000ull;
		rec.ts.nsecs = ts % 1000000000ull;
		rec.rec_header.packet_header.interface_id = (i / 7) % 3;
		rec.block = NULL;
		if (!noopt) {
			rec.block = wtap_block_create(WTAP_BLOCK_PACKET);
			wtap_block_add_uint32_option(rec.block, OPT_PKT_FLAGS, 1);
			if (i % 1000 == 0)
				wtap_block_add_uint64_option(rec.block, OPT_PKT_DROPCOUNT, 1);
			if (i % 997 == 0)
				wtap_block_add_string_option(rec.block, OPT_COMMENT, "truncated", 9);
		}
		if (!wtap_dump(d, &rec, data, &err, &err_info)) {
			fprintf(stderr, "dump: %d\n", err);
			return 1;
		}
		if (rec.block)
			wtap_block_unref(rec.block);
	}
	if (!wtap_dump_close(d, NULL, &err, &err_info))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	double el = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("libwiretap%s: %.3f Mpps (%ld packets, %.3f s)\n", noopt ? " (no packet options)" : "", n / el / 1e6, n, el);
	return 0;
}

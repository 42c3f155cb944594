#!/usr/bin/python3
"""Listen for zebra's FPM client and write the raw byte stream to a file,
each chunk as it arrives (a caller may poll the file for what it waits for).
usage: record_fpm.py PORT OUTFILE SECONDS"""
import socket
import sys
import time

port, out, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
srv.settimeout(secs)
deadline = time.time() + secs
total = 0
with open(out, "wb") as f:
    try:
        conn, _ = srv.accept()
        open(out + ".connected", "w").close()
        conn.settimeout(0.2)
        while time.time() < deadline:
            try:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                f.write(chunk)
                f.flush()
                total += len(chunk)
            except socket.timeout:
                pass
    except socket.timeout:
        pass
print(f"recorded {total} bytes")

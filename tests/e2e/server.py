#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Servers of the e2e topology's nodes (and of the interface node).

  server.py http NAME PORT[,PORT...] [ADDR]
                                       HTTP on every address (IPv4; "::": IPv6
                                       and IPv4, ADDR: that one): each
                                       answer's body is "NAME\\n" (header
                                       X-Node: NAME)
  server.py aux NAME [ADDR]            UDP echo on 9000 ("NAME DATA"), and a
                                       TCP byte counter on 5001 (on ADDR,
                                       "::": IPv6 and IPv4): it sends
                                       "NAME\\n" on accept, counts what the
                                       client sends until it shuts its side
                                       down, answers "bytes N\\n" and closes

Standard library only; run in a node's namespace (topology.sh starts them).
"""
import http.server
import socket
import socketserver
import struct
import sys
import threading

UDP_PORT = 9000
STREAM_PORT = 5001
IP_PKTINFO = 8  # <linux/in.h>; not in every Python's socket module


def http_main(name, ports, addr="0.0.0.0"):
    body = (name + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"   # one request per connection
        server_version = "cnmux-e2e"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Node", name)
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        allow_reuse_address = True
        request_queue_size = 256
        daemon_threads = True

    if ":" in addr:
        class Server6(Server):
            address_family = socket.AF_INET6

            def server_bind(self):
                # "::" takes IPv4 too (tunnel_test.sh's nodes have both)
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                super().server_bind()
        servers = [Server6((addr, p), Handler) for p in ports]
    else:
        servers = [Server((addr, p), Handler) for p in ports]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


def aux_main(name, addr="0.0.0.0"):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    u.bind(("0.0.0.0", UDP_PORT))

    # reply from the address the datagram was sent to (the VIP), not from
    # the address the route to the client would pick (eth0's)
    u.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)

    def udp_loop():
        while True:
            data, anc, _flags, peer = u.recvmsg(65535, socket.CMSG_SPACE(12))
            cmsg = []
            for level, typ, val in anc:
                if level == socket.IPPROTO_IP and typ == IP_PKTINFO and len(val) >= 12:
                    # struct in_pktinfo: ifindex, spec_dst, addr (the header's)
                    cmsg = [(socket.IPPROTO_IP, IP_PKTINFO,
                             struct.pack("i4s4s", 0, val[8:12], b"\0" * 4))]
            u.sendmsg([name.encode() + b" " + data], cmsg, 0, peer)

    class Sink(socketserver.BaseRequestHandler):
        def handle(self):
            c = self.request
            c.sendall((name + "\n").encode())
            n = 0
            while True:
                b = c.recv(65536)
                if not b:
                    break
                n += len(b)
            c.sendall(("bytes %d\n" % n).encode())

    class TServer(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 64

    class TServer6(TServer):
        address_family = socket.AF_INET6

        def server_bind(self):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    t = (TServer6 if ":" in addr else TServer)((addr, STREAM_PORT), Sink)
    threading.Thread(target=t.serve_forever, daemon=True).start()
    udp_loop()


def main():
    if len(sys.argv) in (4, 5) and sys.argv[1] == "http":
        http_main(sys.argv[2], [int(p) for p in sys.argv[3].split(",")], *sys.argv[4:5])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "aux":
        aux_main(sys.argv[2], *sys.argv[3:4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

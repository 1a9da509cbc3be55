#!/usr/bin/python3
"""Write pcaps/demo/in.pcap: the capture the README's first command replays
through config/default.json. Deterministic (fixed seed).

Traffic: 2,000 clients, TCP connections opened with a SYN and some continued
later, (203.0.113.0/24 and 198.18.0.0/15 style documentation
sources are not enough, so 100.64.0.0/10 shared space is used as well) to
web (80,443/tcp), dns (53/udp), ftp (sticky-wild tcp), web6 (IPv6), plus
non-scalable traffic (ssh to the interface node, ICMP echo, ARP) and a few
malformed frames.
"""
import os
import random
import sys

from scapy.all import ARP, ICMP, IP, IPv6, TCP, UDP, Ether, Raw
from scapy.utils import RawPcapWriter

random.seed(20261127)
here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, '..', '..', 'pcaps', 'demo', 'in.pcap')

ROUTER = '02:00:cb:00:71:01'
CNMUX = '02:00:c6:33:64:01'


def client(i):
    if i < 250:
        return '203.0.113.%d' % (i + 1)
    i -= 250
    return '100.%d.%d.%d' % (64 + (i >> 16), (i >> 8) & 255, i & 255 or 1)


pkts = []
opened = []  # TCP connections opened so far: a later packet may continue one
for i in range(6000):
    if opened and random.random() < 0.25:
        # a later segment of an open connection: the forwarding list keeps its node
        c_eth, c_ip, c_tcp = opened[random.randrange(len(opened))]
        pkts.append(c_eth / c_ip / TCP(sport=c_tcp[0], dport=c_tcp[1], flags='A', seq=1, ack=1) /
                    Raw(b'GET / HTTP/1.1\r\n\r\n'))
        continue
    c = random.randrange(2000)
    src = client(c)
    sport = 1024 + random.randrange(60000)
    r = random.random()
    eth = Ether(src=ROUTER, dst=CNMUX)
    if r < 0.45:
        p = eth / IP(src=src, dst='198.51.100.10') / TCP(sport=sport, dport=random.choice([80, 443]), flags='S')
    elif r < 0.65:
        p = eth / IP(src=src, dst='198.51.100.10') / UDP(sport=sport, dport=53) / Raw(b'\x12\x34' + b'\x00' * 10)
    elif r < 0.80:
        p = eth / IP(src=src, dst='198.51.100.20') / TCP(sport=sport, dport=random.choice([20, 21, 2121, 40000]), flags='S')
    elif r < 0.90:
        p = eth / IPv6(src='2001:db8:c::%x' % (c + 1), dst='2001:db8::10') / TCP(sport=sport, dport=80, flags='S')
    elif r < 0.96:
        p = eth / IP(src=src, dst='198.51.100.10') / TCP(sport=sport, dport=22, flags='S')
    elif r < 0.98:
        p = eth / IP(src=src, dst='198.51.100.10') / ICMP()
    elif r < 0.99:
        p = Ether(src=ROUTER, dst='ff:ff:ff:ff:ff:ff') / ARP(psrc='198.51.100.1', pdst='198.51.100.10')
    else:
        bad = random.choice(['runt', 'ihl', 'totlen', 'martian'])
        if bad == 'runt':
            p = Raw(bytes(eth)[:10])
        elif bad == 'ihl':
            p = eth / IP(src=src, dst='198.51.100.10', ihl=4) / UDP(sport=sport, dport=53)
        elif bad == 'totlen':
            p = eth / IP(src=src, dst='198.51.100.10', len=1400) / UDP(sport=sport, dport=53)
        else:
            p = eth / IP(src='127.0.0.1', dst='198.51.100.10') / UDP(sport=sport, dport=53)
    pkts.append(p)
    if p.haslayer(TCP) and p[TCP].flags == 'S' and (p.haslayer(IP) or p.haslayer(IPv6)):
        ipl = p[IP] if p.haslayer(IP) else p[IPv6]
        ipc = IP(src=ipl.src, dst=ipl.dst) if p.haslayer(IP) else IPv6(src=ipl.src, dst=ipl.dst)
        opened.append((eth, ipc, (p[TCP].sport, p[TCP].dport)))

os.makedirs(os.path.dirname(out), exist_ok=True)
w = RawPcapWriter(out, linktype=1, sync=True)
for p in pkts:
    w.write(bytes(p))
w.close()
print('wrote %d frames to %s' % (len(pkts), os.path.normpath(out)), file=sys.stderr)

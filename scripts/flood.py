"""Open and hold TCP connections to 127.0.0.1, as a flooding local user would (issue 11).

Usage: python3 scripts/flood.py PORT:COUNT [PORT:COUNT ...]. Prints how many connected and
how many failed, then holds every connection until stdin closes. Standard library only: the
bench and the host test run it as user nobody with Debian's /usr/bin/python3.
"""

import resource
import socket
import sys

hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held, failed = [], 0
for spec in sys.argv[1:]:
    port, count = map(int, spec.split(":"))
    for _ in range(count):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        except OSError:
            failed += 1
print(len(held), failed, flush=True)
sys.stdin.read()

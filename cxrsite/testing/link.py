"""An emulated network link for tests and benchmarks: a TCP relay on loopback to a server's port, at a
given rate each way, that can be cut (every connection closed, new ones refused) for a while or until
restored. A client that talks to the relay's port sees a slow link that drops, as a clinic's does."""

import socket
import threading
import time

PIECE = 1460


class Link:
    """A relay to `target` at `rate` bytes/s each way, that can be cut (`drop`) for a while."""

    def __init__(self, target: int, rate: float = float("inf")):
        self.target, self.rate = target, rate
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up_bytes = 0
        self.down_until = 0.0
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.next_free = {"up": 0.0, "down": 0.0}
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Down until `restore`."""
        self.drop(float("inf"))

    def restore(self) -> None:
        with self.lock:
            self.down_until = 0.0

    def drop(self, seconds: float) -> None:
        with self.lock:
            self.down_until = time.monotonic() + seconds
            for sock in list(self.sockets):
                _close(sock)
            self.sockets.clear()

    def _accept(self):
        while True:
            client, _ = self.listener.accept()
            if time.monotonic() < self.down_until:
                _close(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                _close(client)
                continue
            with self.lock:
                self.sockets |= {client, server}
            threading.Thread(target=self._pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "down"), daemon=True).start()

    def _pump(self, source, sink, direction):
        try:
            while data := source.recv(PIECE):
                if direction == "up":
                    with self.lock:
                        self.up_bytes += len(data)
                with self.lock:  # one link: the pieces of every connection one way share its rate
                    start = max(time.monotonic(), self.next_free[direction])
                    self.next_free[direction] = start + len(data) / self.rate
                time.sleep(max(0.0, start + len(data) / self.rate - time.monotonic()))
                if time.monotonic() < self.down_until:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()

"""Who may hold the DICOM listener: a lobby for connections that have said nothing yet, association
slots that only accepted nodes take, and refusals audited once per address, title and reason a minute.

Issue 28, found by a black-box test: pynetdicom starts a thread and counts an association the moment
it accepts a TCP connection, so sixteen idle connections with no AE title filled its sixteen slots and
locked the X-ray units out for as long as they stayed; and every refused association wrote its own
audit row, 200 in 2.6 s from one peer.
"""

import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Address = tuple  # (host, port) as the server's accept() gives it


class Lobby:
    """Accepted connections that have sent nothing yet wait here: no thread, no association slot.

    A connection goes on to pynetdicom (`hand_over`) once its first bytes arrive. One still silent
    after `timeout` seconds is closed; so is the longest-waiting silent one of an address that already
    has `per_address` waiting, and of all when `total` wait (one that has spoken is on its way, and
    never closed for a newcomer). A unit sends its association request within milliseconds of
    connecting, so a unit that shares an address with idle connections still gets in. Each closed
    connection is reported to `drop(host, reason)`, from the lobby's own thread.
    """

    def __init__(self, *, hand_over: Callable[[socket.socket, Address], None], drop: Callable[[str, str], None],
                 per_address: int, total: int, timeout: float):
        self.hand_over, self.drop = hand_over, drop
        self.per_address, self.total, self.timeout = per_address, total, timeout
        self.waiting: dict[socket.socket, tuple[Address, float]] = {}  # in order of arrival
        self.evicted: list[tuple[socket.socket, Address]] = []
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="dicom-lobby", daemon=True)

    @property
    def silent_reason(self) -> str:
        return f"no association request within {self.timeout:g} s"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        with self.lock:
            leaving = [connection for connection, _ in self.evicted] + list(self.waiting)
            for connection in list(self.waiting):
                self._leave(connection)
        for connection in leaving:
            connection.close()

    def admit(self, connection: socket.socket, address: Address) -> None:
        """A new connection (the server's accept loop calls this instead of starting a thread)."""
        with self.lock:
            same_address = [waiting for waiting, (other, _) in self.waiting.items() if other[0] == address[0]]
            crowd = same_address if len(same_address) >= self.per_address else (
                list(self.waiting) if len(self.waiting) >= self.total else [])
            if (longest_silent := next(filter(_silent, crowd), None)) is not None:
                self._evict(longest_silent)
            self.waiting[connection] = (address, time.monotonic())
            self.selector.register(connection, selectors.EVENT_READ)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            ready = self.selector.select(timeout=0.2)
            now = time.monotonic()
            with self.lock:
                spoke = [(key.fileobj, self._leave(key.fileobj)) for key, _ in ready if key.fileobj in self.waiting]
                silent = [(connection, self._leave(connection)) for connection, (_, arrived)
                          in list(self.waiting.items()) if now - arrived > self.timeout]
                evicted, self.evicted = self.evicted, []
            for connection, address in spoke:
                self._pass_on(connection, address)
            for connections, reason in ((silent, self.silent_reason),
                                        (evicted, "too many connections waiting from this address")):
                for connection, address in connections:
                    connection.close()
                    self.drop(address[0], reason)

    def _pass_on(self, connection: socket.socket, address: Address) -> None:
        try:
            spoke = connection.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            spoke = False
        if spoke:
            try:
                self.hand_over(connection, address)
                return
            except Exception:  # no thread to be had: this connection goes, the lobby stays
                log.exception("Could not pass on a connection from %s", address[0])
        connection.close()  # (or it connected and left without a word: nothing to serve)

    def _evict(self, connection: socket.socket) -> None:
        self.evicted.append((connection, self._leave(connection)))
        try:
            connection.shutdown(socket.SHUT_RDWR)  # closed, and reported, by the lobby's thread
        except OSError:  # the peer had gone already
            pass

    def _leave(self, connection: socket.socket) -> Address:
        self.selector.unregister(connection)
        return self.waiting.pop(connection)[0]


def _silent(connection: socket.socket) -> bool:
    """Nothing has arrived on the connection yet (and it is still open)."""
    try:
        connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except OSError:
        pass
    return False


class Slots:
    """Association slots, taken only by associations the listener accepts (a registered node), so a
    stranger or an idle connection never holds one."""

    def __init__(self, size: int):
        self.size = size
        self.holders: set = set()
        self.lock = threading.Lock()

    def take(self, holder) -> bool:
        with self.lock:
            if len(self.holders) >= self.size:
                return False
            self.holders.add(holder)
            return True

    def release(self, holder) -> None:
        with self.lock:
            self.holders.discard(holder)


@dataclass
class Window:
    opened: float
    outcome: str
    first_event: int  # the audit event written for the window's first refusal
    more: int = 0  # refusals since, written as one event with this count when the window closes


class RefusalTally:
    """Refusals audited per (address, calling AE title, reason) and minute, with a count.

    The first refusal of a minute is written at once (`write(..., count=1)`: a unit set up wrongly
    shows in the trail at once); the others are counted, and written as one event with their count
    when the minute is over or the listener stops. A flood of refusals is then two rows a minute,
    not one per attempt. An address that tries more than `titles_per_address` titles in a minute is
    counted under the title "*" from then on, so made-up titles cannot multiply the rows either.
    A window whose first event is no longer in the trail (`recorded` says so; only a test database is
    ever emptied) starts afresh. `refused_later` leaves the database work to the tally's own thread,
    for callers that must not wait for it (the lobby).
    """

    WINDOW_SECONDS = 60
    titles_per_address = 16

    def __init__(self, *, write: Callable[..., int], recorded: Callable[[int], bool]):
        self.write, self.recorded = write, recorded
        self.windows: dict[tuple[str, str, str, str], Window] = {}
        self.lock = threading.Lock()
        self.later: queue.SimpleQueue[dict | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name="dicom-refusals", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Write every count still open (the listener is stopping)."""
        self.later.put(None)
        self.thread.join(10)
        self._close_windows(older_than=0)

    def refused_later(self, **refusal) -> None:
        self.later.put(refusal)

    def refused(self, *, address: str, calling: str, called: str, outcome: str, reason: str) -> None:
        with self.lock:
            if calling and len({key[1] for key in self.windows if key[0] == address}) >= self.titles_per_address:
                calling = "*"
            key = (address, calling, called, reason)
            window = self.windows.get(key)
            if window is not None and self.recorded(window.first_event):
                window.more += 1
                return
            first = self.write(address=address, calling=calling, called=called, outcome=outcome, reason=reason,
                               count=1)
            self.windows[key] = Window(opened=time.monotonic(), outcome=outcome, first_event=first)

    def _serve(self) -> None:
        """Refusals left for later, as they come; every second, the windows a minute old."""
        next_closing = time.monotonic() + 1
        while True:
            try:
                refusal = self.later.get(timeout=max(0.0, next_closing - time.monotonic()))
            except queue.Empty:
                refusal = {}
            if refusal is None:
                return
            try:
                if refusal:
                    self.refused(**refusal)
                if time.monotonic() >= next_closing:
                    next_closing = time.monotonic() + 1
                    self._close_windows(older_than=self.WINDOW_SECONDS)
            except Exception:  # the database is down: those rows are lost, the next ones are not
                log.exception("Could not audit refused associations")

    def _close_windows(self, *, older_than: float) -> None:
        now = time.monotonic()
        with self.lock:
            for key, window in list(self.windows.items()):
                if now - window.opened < older_than:
                    continue
                del self.windows[key]
                if window.more and self.recorded(window.first_event):
                    address, calling, called, reason = key
                    self.write(address=address, calling=calling, called=called, outcome=window.outcome,
                               reason=reason, count=window.more)

#!/usr/bin/python3
"""A scriptable SPICE client for gvmm's display tests and benchmark.

Run it with Debian's /usr/bin/python3 (python3-gi and
gir1.2-spiceclientglib-2.0 are installed for that one, not for other
Pythons on PATH). It is a real SPICE client: spice-gtk's SpiceClientGLib
through GObject introspection, without GTK, so no X server is needed.

    spice_client.py [--host H] [--port P | --unix PATH] [--password S]
                    [--timeout SECONDS] [--display N] [--gl on|off|no-ack]
                    ACTION...

It connects, then runs the ACTIONs in order on display N (the display
channel with that id, gvmm's output N; default 0); each prints one JSON
line on stdout ({"action": ..., "ok": true|false, ...}). The action
"stdin" reads more actions from standard input, one per line, until end
of file, so a test script can drive one connection step by step (through
a FIFO).

--gl (default off) says whether the client takes GL scanouts, frames the
server hands over as dmabufs (a local client on a unix socket): on maps
each dmabuf and reads its pixels where the other actions look, and
acknowledges each GL draw; no-ack takes them and never acknowledges, as a
hung client would; off does not offer to take them (spice-server then
drops the client while a GL scanout is shown).

Actions:
  wait-primary            wait for the display channel's primary surface
                          (or, with --gl, its GL scanout)
  wait-gl-draws=N         wait until N GL draws came (result: draws, acks
                          sent, the scanout's size, stride and DRM format)
  wait-size=W,H           wait until the primary surface is W x H
  wait-mouse-mode=client  wait until the server is in client mouse mode
                          (absolute positions go to the guest's tablet)
  settle=S                wait until no update came for S seconds
  wait-rect=X,Y,W,H,RRGGBB  wait until that rectangle shows that colour
  wait-share=RRGGBB,PCT   wait until at least PCT percent of the display
                          shows that colour (counted on every 8th pixel of
                          every 8th row: a desktop's background behind
                          windows placed anywhere)
  dump=FILE               write what the client has as a PPM (P6) file
  key=SC[,SC...]          press and release each PC XT (set 1) scancode;
                          E0-prefixed keys as 0x100 | code (KEY_UP: 0x148)
  keydown=SC / keyup=SC   one half of that
  type=TEXT               type TEXT on a US keyboard (letters, digits, space,
                          and the punctuation of US_KEYS below; "\\n" is
                          Enter); the first character it cannot type fails
  ink=X,Y,W,H             report how many pixels of that rectangle differ
                          from its top-left pixel (text drawn on a plain
                          background shows up as ink)
  position=X,Y            the pointer at X,Y of display 0 (client mode)
  wait-cursor             wait for a cursor shape from the server (result:
                          its size, hot spot, and opaque: how many of its
                          pixels are not fully transparent)
  button-down=B / button-up=B   B: 1 left, 2 middle, 3 right
  monitor=W,H             ask for display 0 to be W x H (a window resize:
                          spice-gtk sends the monitors config only when the
                          server reports an agent, so this waits for one)
  sleep=S
  bench=N,CONSOLE_LOG[,SC]  the display benchmark (tools/bench-display):
                          N times: press SC (default KEY_SPACE), then time
                          from the guest's "FLUSH k" line arriving in
                          CONSOLE_LOG (read with this process's clock) to
                          the client's pixels showing frame k
  count-frames=CONSOLE_LOG,START,END  the frame rate the client receives
                          of glprobe's frames (tools/bench's gpu row): from
                          the line START arriving in CONSOLE_LOG to the
                          line END, the frames it got whole (see
                          count_frames), and over how many seconds
  stdin                   read further actions from standard input

Every wait is bounded by --timeout (default 120 s). Exit status: 0 every
action succeeded; 1 an action failed; 2 bad usage; 3 the server refused us
(wrong password); 4 no connection (nothing listens, or the link failed or
closed before the actions were done).
"""

import argparse
import ctypes
import json
import math
import mmap
import os
import queue
import statistics
import sys
import threading
import time

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject, SpiceClientGLib as Spice  # noqa: E402

MOUSE_MODE_CLIENT = 2
BUTTON_MASKS = {1: 1, 2: 2, 3: 4}  # SPICE_MOUSE_BUTTON_* -> SPICE_MOUSE_BUTTON_MASK_*
KEY_SPACE_SCANCODE = 0x39
LEFT_SHIFT_SCANCODE = 0x2a
ENTER_SCANCODE = 0x1c

# Scancodes (PC XT set 1) of a US keyboard: character -> (code, shifted).
US_KEYS = {" ": (0x39, False), "\n": (ENTER_SCANCODE, False)}
for _row, _first in (("1234567890-=", 0x02), ("qwertyuiop[]", 0x10),
                     ("asdfghjkl;'`", 0x1e), ("\\zxcvbnm,./", 0x2b)):
    for _i, _c in enumerate(_row):
        US_KEYS[_c] = (_first + _i, False)
for _row, _first in (("!@#$%^&*()_+", 0x02), ("QWERTYUIOP{}", 0x10),
                     ('ASDFGHJKL:"~', 0x1e), ("|ZXCVBNM<>?", 0x2b)):
    for _i, _c in enumerate(_row):
        US_KEYS[_c] = (_first + _i, True)


def emit(**fields):
    print(json.dumps(fields), flush=True)


class Refused(Exception):
    pass


class Disconnected(Exception):
    pass


# A dmabuf mapped read-only (its fd is not writable), through libc itself:
# ctypes takes the address only of writable Python buffers.
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.mmap.restype = ctypes.c_void_p
LIBC.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
LIBC.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
MAP_FAILED = ctypes.c_void_p(-1).value


class Client:
    def __init__(self, args):
        self.timeout = args.timeout
        self.session = Spice.Session()
        if args.unix:
            self.session.props.unix_path = args.unix
        else:
            self.session.props.host = args.host
            self.session.props.port = str(args.port)
        if args.password is not None:
            self.session.props.password = args.password
        self.gl_mode = args.gl
        self.session.props.gl_scanout = args.gl != "off"
        self.display_id = args.display
        self.main = self.display = self.inputs = None
        # spice-gtk drops input sent before the inputs channel is open.
        self.inputs_open = False
        self.surface = None  # the 2D primary: (width, height, stride, format, address)
        self.gl_frame = None  # the mapped GL scanout, the same shape
        self.gl_map = None  # (address, size) of its mapping
        self.gl_scanout = None  # (width, height, stride, DRM format, y0top)
        self.gl_draws = 0
        self.gl_acks = 0
        self.cursor = None  # the last cursor shape: (width, height, hot_x, hot_y, opaque pixels)
        self.cursor_shapes = 0
        self.updates = 0
        self.last_update = time.monotonic()
        self.error = None  # "refused" / "connect" / "closed"
        self.buttons = 0
        self.on_update = None  # bench hook
        # Signals: GObject's connect, since Session and Channel have their
        # own connect() that opens the connection.
        GObject.Object.connect(self.session, "channel-new", self._channel_new)
        GObject.Object.connect(self.session, "disconnected", self._disconnected)

    # -- connection and signals --

    def _channel_new(self, _session, channel):
        GObject.Object.connect(channel, "channel-event", self._channel_event)
        if isinstance(channel, Spice.MainChannel):
            self.main = channel
        elif isinstance(channel, Spice.DisplayChannel):
            if self.display is None and channel.props.channel_id == self.display_id:
                self.display = channel
                GObject.Object.connect(channel, "display-primary-create", self._primary_create)
                GObject.Object.connect(channel, "display-primary-destroy", self._primary_destroy)
                GObject.Object.connect(channel, "display-invalidate", self._invalidate)
                GObject.Object.connect(channel, "notify::gl-scanout", self._gl_scanout)
                GObject.Object.connect(channel, "gl-draw", self._gl_draw)
        elif isinstance(channel, Spice.CursorChannel):
            # "cursor-set" (not the newer "cursor" property, which this
            # spice-gtk never announced to Python in the desktop test).
            GObject.Object.connect(channel, "cursor-set", self._cursor_set)
        elif isinstance(channel, Spice.InputsChannel):
            self.inputs = channel
        Spice.Channel.connect(channel)

    def _channel_event(self, channel, event):
        if event == Spice.ChannelEvent.OPENED and channel is self.inputs:
            self.inputs_open = True
        if event == Spice.ChannelEvent.ERROR_AUTH:
            self.error = "refused"
        elif event in (Spice.ChannelEvent.ERROR_CONNECT, Spice.ChannelEvent.ERROR_TLS,
                       Spice.ChannelEvent.ERROR_LINK):
            self.error = self.error or "connect"
        elif event in (Spice.ChannelEvent.ERROR_IO, Spice.ChannelEvent.CLOSED):
            if channel is self.main:
                self.error = self.error or "closed"

    def _disconnected(self, _session):
        self.error = self.error or "closed"

    @property
    def primary(self):
        """What the client shows: the GL scanout once one came, else the
        2D primary surface; (width, height, stride, format, address)."""
        return self.gl_frame or self.surface

    def _primary_create(self, _channel, fmt, width, height, stride, _shmid, data):
        self.surface = (width, height, stride, fmt, data)
        self._touch()

    def _primary_destroy(self, _channel):
        self.surface = None

    def _cursor_set(self, _channel, width, height, hot_x, hot_y, address):
        """A cursor shape came: its size, hot spot, and how many of its
        pixels are not fully transparent (RGBA, 4 bytes each)."""
        opaque = None
        if address and width > 0 and height > 0:
            raw = ctypes.string_at(address, width * height * 4)
            opaque = sum(1 for i in range(3, len(raw), 4) if raw[i])
        self.cursor = (width, height, hot_x, hot_y, opaque)
        self.cursor_shapes += 1

    def _gl_unmap(self):
        self.gl_frame = None
        if self.gl_map is not None:
            LIBC.munmap(*self.gl_map)
            self.gl_map = None

    def _gl_scanout(self, channel, _pspec):
        """A new dmabuf: map it (the channel keeps its fd; a dup is ours).
        DRM XRGB8888 is bytes B, G, R, X like the 2D surface. A buffer
        that cannot be mapped leaves no frame, which the waits report."""
        self._gl_unmap()
        scanout = channel.get_gl_scanout()
        if scanout is None or scanout.fd < 0:
            return
        self.gl_scanout = (scanout.width, scanout.height, scanout.stride, scanout.format,
                           bool(scanout.y0top))
        size = scanout.stride * scanout.height
        address = LIBC.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, scanout.fd, 0)
        if address in (None, MAP_FAILED):
            print("spice_client: cannot map the GL scanout: %s"
                  % os.strerror(ctypes.get_errno()), file=sys.stderr)
            return
        self.gl_map = (address, size)
        self.gl_frame = (scanout.width, scanout.height, scanout.stride, scanout.format, address)

    def _gl_draw(self, channel, _x, _y, _w, _h):
        self.gl_draws += 1
        self._touch()
        if self.gl_mode == "on":
            channel.gl_draw_done()
            self.gl_acks += 1

    def _invalidate(self, _channel, _x, _y, _w, _h):
        self._touch()

    def _touch(self):
        self.updates += 1
        self.last_update = time.monotonic()
        if self.on_update:
            self.on_update()

    def connect(self):
        Spice.Session.connect(self.session)
        self.run_until(lambda: self.main is not None and self.main.props.channel_id == 0
                       and self.inputs_open and self.display is not None,
                       "the main, display and inputs channels")

    def close(self):
        self.session.disconnect()

    # -- waiting --

    def run_until(self, pred, what, timeout=None):
        """Runs the GLib main loop until pred() is true; raises on a
        refusal, a lost connection or the time limit."""
        ctx = GLib.MainContext.default()
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        tick = GLib.timeout_add(20, lambda: True)
        try:
            while True:
                if self.error == "refused":
                    raise Refused()
                if self.error:
                    raise Disconnected(self.error)
                if pred():
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError("waited %g s for %s" % (limit, what() if callable(what) else what))
                ctx.iteration(True)
        finally:
            GLib.source_remove(tick)

    def pause(self, seconds):
        end = time.monotonic() + seconds
        self.run_until(lambda: time.monotonic() >= end, "a pause", timeout=seconds + 5)

    # -- pixels --

    def pixel(self, x, y):
        """(r, g, b) the client has at x, y (32-bit xRGB: bytes B, G, R, X)."""
        width, height, stride, _fmt, data = self.primary
        b, g, r = ctypes.string_at(data + y * stride + x * 4, 3)
        return r, g, b

    def frame_bytes(self):
        width, height, stride, _fmt, data = self.primary
        return width, height, stride, ctypes.string_at(data, stride * height)

    def dump_ppm(self, path):
        width, height, stride, raw = self.frame_bytes()
        rgb = bytearray(width * height * 3)
        for y in range(height):
            row = raw[y * stride:y * stride + width * 4]
            line = memoryview(rgb)[y * width * 3:(y + 1) * width * 3]
            line[0::3] = row[2::4]
            line[1::3] = row[1::4]
            line[2::3] = row[0::4]
        with open(path, "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (width, height))
            f.write(rgb)
        return width, height

    def rect_is(self, x, y, w, h, rgb):
        if not self.primary:
            return False
        want = bytes([rgb & 0xff, rgb >> 8 & 0xff, rgb >> 16 & 0xff])
        width, height, stride, _fmt, data = self.primary
        if x + w > width or y + h > height:
            return False
        for yy in range(y, y + h):
            row = ctypes.string_at(data + yy * stride + x * 4, w * 4)
            if row[0::4] != want[0:1] * w or row[1::4] != want[1:2] * w or row[2::4] != want[2:3] * w:
                return False
        return True

    def share(self, rgb):
        """The fraction of pixels of colour rgb, on a grid of every 8th."""
        width, height, stride, raw = self.frame_bytes()
        want = bytes([rgb & 0xff, rgb >> 8 & 0xff, rgb >> 16 & 0xff])
        seen = total = 0
        for y in range(0, height, 8):
            pixels = raw[y * stride:y * stride + width * 4]
            for x in range(0, width, 8):
                total += 1
                if pixels[x * 4:x * 4 + 3] == want:
                    seen += 1
        return seen / total if total else 0.0

    # -- input --

    def key(self, scancode, down):
        if down:
            self.inputs.key_press(scancode)
        else:
            self.inputs.key_release(scancode)
        self.flush()

    def position(self, x, y):
        self.inputs.position(x, y, 0, self.buttons)
        self.flush()

    def button(self, button, down):
        mask = BUTTON_MASKS[button]
        if down:
            self.buttons |= mask
            self.inputs.button_press(button, self.buttons)
        else:
            self.buttons &= ~mask
            self.inputs.button_release(button, self.buttons)
        self.flush()

    def flush(self):
        # Let the channel coroutines write what was queued.
        ctx = GLib.MainContext.default()
        while ctx.pending():
            ctx.iteration(False)


def numbers(value, count=None, base=0):
    parts = [int(p, base) for p in value.split(",")]
    if count is not None and len(parts) != count:
        raise ValueError("want %d numbers, got '%s'" % (count, value))
    return parts


class ConsoleWatcher(threading.Thread):
    """Reads a growing console log, stamping each new line with this
    process's monotonic clock as it arrives (polled every 0.5 ms)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.lines = queue.Queue()
        self.stop = False

    def run(self):
        while not os.path.exists(self.path) and not self.stop:
            time.sleep(0.01)
        with open(self.path, "rb") as f:
            pending = b""
            while not self.stop:
                chunk = f.read(65536)
                if not chunk:
                    time.sleep(0.0005)
                    continue
                now = time.monotonic()
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    self.lines.put((now, line.decode("utf-8", "replace").strip("\r")))


def frame_mask(k):
    """XOR mask of bench frame k (see tests/guest-tools/fbpaint.c)."""
    return ((0x80 if k & 1 else 0), (0x80 if k & 2 else 0), (0x80 if k & 4 else 0))


def pattern(x, y, width, height):
    q = (x >= width // 2) + 2 * (y >= height // 2)
    return x & 0xff, y & 0xff, q << 6 | ((x >> 8) & 7) << 3 | ((y >> 8) & 7)


def bench(client, frames, log, scancode):
    """Latency from the guest's FLUSH k marker reaching the console log to
    the client having frame k, for k = 1..frames (each started by a key
    press once the previous one has arrived)."""
    watcher = ConsoleWatcher(log)
    watcher.start()
    flush_at, pixels_at = {}, {}
    current = [0]

    def drain_console():
        ready = False
        while True:
            try:
                t, line = watcher.lines.get_nowait()
            except queue.Empty:
                return ready
            if line.startswith("FLUSH "):
                flush_at.setdefault(int(line.split()[1]), t)
            elif "BENCH-READY" in line:
                ready = True

    ready = [False]

    def is_ready():
        ready[0] = ready[0] or drain_console()
        return ready[0]

    # The guest has set its mode when it says it is ready.
    client.run_until(is_ready, "BENCH-READY on the guest console")
    client.run_until(lambda: client.primary is not None, "the primary surface")
    width, height = client.primary[0], client.primary[1]
    # Sample points away from the pattern's steps (x or y near a multiple
    # of 256, the quadrant edges) so that lossy video coding, if the
    # server turns the updates into a stream, cannot blur them into the
    # wrong colour; frames differ by 128 in a channel, we allow 40.
    xs = [min(width - 1, v) for v in (100, width // 2 - 148, width - 100)]
    ys = [min(height - 1, v) for v in (100, height // 2 - 60, height - 100)]
    points = [(x, y) for x in xs for y in ys]

    def frame_matches(k):
        m = frame_mask(k)
        for x, y in points:
            want = [c ^ mc for c, mc in zip(pattern(x, y, width, height), m)]
            if any(abs(a - b) > 40 for a, b in zip(client.pixel(x, y), want)):
                return False
        return True

    def describe():
        """What the sample points show, for a failure."""
        if not client.primary or client.primary[:2] != (width, height):
            return "the client's surface is %s" % (client.primary[:2] if client.primary else None,)
        shown = []
        for x, y in points:
            got = client.pixel(x, y)
            frame = [j for j in range(8) if all(
                abs(a - (c ^ mc)) <= 40 for a, c, mc in zip(got, pattern(x, y, width, height), frame_mask(j)))]
            shown.append("(%d,%d)=%02x%02x%02x~frame%s" % (x, y, got[0], got[1], got[2],
                                                           "%%8=%d" % frame[0] if frame else " none"))
        return "the client shows " + " ".join(shown)

    def on_update():
        k = current[0]
        if k and k not in pixels_at and client.primary and \
                client.primary[:2] == (width, height) and frame_matches(k):
            pixels_at[k] = time.monotonic()

    client.on_update = on_update
    latencies = []
    try:
        for k in range(1, frames + 1):
            current[0] = k
            client.key(scancode, True)
            client.pause(0.05)
            client.key(scancode, False)

            def arrived():
                drain_console()
                on_update()  # also catches pixels that came before the marker was read
                return k in flush_at and k in pixels_at

            client.run_until(arrived, lambda: "frame %d (marker seen: %s, pixels seen: %s; %s)" % (
                k, k in flush_at, k in pixels_at, describe()))
            ms = (pixels_at[k] - flush_at[k]) * 1000
            latencies.append(ms)
            emit(action="bench-frame", frame=k, latency_ms=round(ms, 2))
            if k < frames:
                client.pause(0.2)  # quiet before the next frame
    finally:
        client.on_update = None
        watcher.stop = True
    ordered = sorted(latencies)
    return {
        "frames": len(latencies),
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[math.ceil(0.95 * len(ordered)) - 1], 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
        "width": width,
        "height": height,
    }


def glprobe_colours(mask):
    """glprobe's test picture under frame mask MASK (tests/guest-tools/glprobe.c):
    the left half, the right half and the top strip, as (r, g, b)."""
    flip = (0x80 if mask & 1 else 0, 0x80 if mask & 2 else 0, 0x80 if mask & 4 else 0)
    return [tuple(c ^ f for c, f in zip(rgb, flip))
            for rgb in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]


def count_frames(client, log, start, end):
    """Whole glprobe frames the client receives between the console lines
    START and END (read with this process's clock): a frame counts when
    every sample point (three in each part of the picture) shows one
    frame mask, and that mask is not the last one counted. A frame that
    came in pieces counts once, when its last piece came; one the server
    dropped or merged into the next does not count."""
    watcher = ConsoleWatcher(log)
    watcher.start()
    marks = {}

    def drain_console():
        while True:
            try:
                t, line = watcher.lines.get_nowait()
            except queue.Empty:
                return
            for name in (start, end):
                if name in line:
                    marks.setdefault(name, t)

    state = {"mask": None, "frames": 0, "updates": 0, "pieces": 0}

    def shown_mask():
        if client.primary is None:
            return None
        w, h = client.primary[:2]
        parts = (
            [(w // 4, h // 2), (w // 8, 3 * h // 4), (3 * w // 8, h // 3)],   # left half
            [(3 * w // 4, h // 2), (5 * w // 8, 3 * h // 4), (7 * w // 8, h // 3)],   # right half
            [(w // 8, h // 16), (w // 2, h // 16), (7 * w // 8, h // 16)],   # top strip
        )
        seen = [[client.pixel(x, y) for x, y in points] for points in parts]
        for mask in range(8):
            want = glprobe_colours(mask)
            if all(abs(a - b) <= 40 for part, rgb in zip(seen, want)
                   for px in part for a, b in zip(px, rgb)):
                return mask
        return None

    def on_update():
        if start not in marks or end in marks:
            return
        state["updates"] += 1
        mask = shown_mask()
        if mask is None:
            state["pieces"] += 1
        elif mask != state["mask"]:
            state["mask"] = mask
            state["frames"] += 1

    client.run_until(lambda: client.primary is not None, "the primary surface")
    client.on_update = on_update
    try:
        def started():
            drain_console()
            if start in marks and state["mask"] is None:
                state["mask"] = shown_mask()  # already there: not a frame received
            return start in marks

        client.run_until(started, "the line %s on the console" % start)

        def ended():
            drain_console()
            return end in marks

        client.run_until(ended, lambda: "the line %s on the console (%d frames so far)"
                         % (end, state["frames"]))
    finally:
        client.on_update = None
        watcher.stop = True
    seconds = marks[end] - marks[start]
    return {
        "frames": state["frames"],
        "updates": state["updates"],
        "updates_mid_frame": state["pieces"],
        "seconds": round(seconds, 3),
        "fps": round(state["frames"] / seconds, 2) if seconds > 0 else None,
    }


def run_action(client, action, stdin_actions):
    name, _, value = action.partition("=")
    result = {"action": name}
    if name == "wait-primary":
        if client.gl_mode == "off":
            client.run_until(lambda: client.primary is not None, "the primary surface")
        else:
            client.run_until(lambda: client.gl_frame is not None, "a GL scanout")
        w, h, stride, fmt, _ = client.primary
        result.update(width=w, height=h, stride=stride, format=fmt,
                      gl=client.gl_frame is not None)
    elif name == "wait-gl-draws":
        n = numbers(value, 1)[0]
        client.run_until(lambda: client.gl_draws >= n, lambda: "%d GL draws (%d came)"
                         % (n, client.gl_draws))
        result.update(draws=client.gl_draws, acks=client.gl_acks)
        if client.gl_scanout:
            w, h, stride, fourcc, y0top = client.gl_scanout
            result.update(width=w, height=h, stride=stride, fourcc="%08x" % fourcc,
                          y0top=y0top, mapped=client.gl_frame is not None)
    elif name == "wait-size":
        w, h = numbers(value, 2)
        client.run_until(lambda: client.primary is not None and client.primary[:2] == (w, h),
                         "a %dx%d primary surface" % (w, h))
        result.update(width=w, height=h)
    elif name == "wait-mouse-mode":
        client.run_until(lambda: client.main.props.mouse_mode == MOUSE_MODE_CLIENT,
                         "client mouse mode")
        result.update(mouse_mode="client")
    elif name == "settle":
        quiet = float(value)
        client.run_until(lambda: client.primary is not None and
                         time.monotonic() - client.last_update >= quiet,
                         "%s s without updates" % value)
    elif name == "wait-rect":
        x, y, w, h = numbers(value.rsplit(",", 1)[0], 4)
        rgb = int(value.rsplit(",", 1)[1], 16)
        client.run_until(lambda: client.rect_is(x, y, w, h, rgb), "the rectangle %s" % value)
    elif name == "wait-share":
        colour, percent = value.split(",")
        rgb, want = int(colour, 16), float(percent) / 100
        client.run_until(lambda: client.primary is not None and client.share(rgb) >= want,
                         "%s%% of the display in %s" % (percent, colour))
        result.update(share=round(client.share(rgb) * 100, 1))
    elif name == "dump":
        client.run_until(lambda: client.primary is not None, "the primary surface")
        w, h = client.dump_ppm(value)
        result.update(file=value, width=w, height=h)
    elif name in ("key", "keydown", "keyup"):
        codes = numbers(value)
        for sc in codes:
            if name != "keyup":
                client.key(sc, True)
            if name == "key":
                client.pause(0.1)
            if name != "keydown":
                client.key(sc, False)
            client.pause(0.1)
        result.update(scancodes=codes)
    elif name == "type":
        text = value.replace("\\n", "\n")
        missing = [c for c in text if c not in US_KEYS]
        if missing:
            raise ValueError("cannot type %r on a US keyboard" % missing[0])
        # Each key's release right after its press: a guest that takes
        # them apart by more than its repeat delay (a slow one) would
        # repeat the key.
        for c in text:
            code, shifted = US_KEYS[c]
            if shifted:
                client.key(LEFT_SHIFT_SCANCODE, True)
            client.key(code, True)
            client.key(code, False)
            if shifted:
                client.key(LEFT_SHIFT_SCANCODE, False)
            client.pause(0.05)
        result.update(text=text)
    elif name == "ink":
        x, y, w, h = numbers(value, 4)
        client.run_until(lambda: client.primary is not None, "the primary surface")
        width, height = client.primary[:2]
        if x + w > width or y + h > height:
            raise ValueError("rectangle %s is outside the %dx%d surface" % (value, width, height))
        background = client.pixel(x, y)
        inked = sum(1 for yy in range(y, y + h) for xx in range(x, x + w)
                    if client.pixel(xx, yy) != background)
        result.update(ink=inked, background="%02x%02x%02x" % background)
    elif name == "wait-cursor":
        client.run_until(lambda: client.cursor is not None, "a cursor shape")
        w, h, hx, hy, opaque = client.cursor
        result.update(width=w, height=h, hot_x=hx, hot_y=hy, opaque=opaque,
                      shapes=client.cursor_shapes)
    elif name == "position":
        x, y = numbers(value, 2)
        client.position(x, y)
        result.update(x=x, y=y)
    elif name in ("button-down", "button-up"):
        client.button(int(value), name == "button-down")
        result.update(button=int(value))
    elif name == "monitor":
        w, h = numbers(value, 2)
        client.run_until(lambda: client.main.props.agent_connected,
                         "the server to report an agent (spice-gtk sends monitors configs "
                         "only then)")
        client.main.update_display_enabled(0, True, False)
        client.main.update_display(0, 0, 0, w, h, False)
        if not client.main.send_monitor_config():
            raise RuntimeError("spice-gtk did not send the monitors config")
        client.flush()
        result.update(width=w, height=h)
    elif name == "sleep":
        client.pause(float(value))
    elif name == "bench":
        parts = value.split(",")
        scancode = int(parts[2], 0) if len(parts) > 2 else KEY_SPACE_SCANCODE
        client.run_until(lambda: client.primary is not None, "the primary surface")
        result.update(bench(client, int(parts[0]), parts[1], scancode))
    elif name == "count-frames":
        parts = value.split(",")
        if len(parts) != 3:
            raise ValueError("count-frames wants CONSOLE_LOG,START,END")
        result.update(count_frames(client, *parts))
    elif name == "stdin":
        stdin_actions.append(True)
        return None
    else:
        raise ValueError("unknown action '%s'" % name)
    result["ok"] = True
    return result


def stdin_reader(lines):
    for line in sys.stdin:
        lines.put(line.strip())
    lines.put(None)


def main():
    parser = argparse.ArgumentParser(description="Scriptable SPICE client (see the file's header).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5900)
    parser.add_argument("--unix", help="path of a unix socket instead of host and port")
    parser.add_argument("--password")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--display", type=int, default=0,
                        help="the display channel the actions look at (default 0)")
    parser.add_argument("--gl", choices=("on", "off", "no-ack"), default="off",
                        help="take GL scanouts (dmabufs): on, off, or no-ack "
                             "(take them, never acknowledge a draw)")
    parser.add_argument("actions", nargs="*")
    args = parser.parse_args()

    client = Client(args)
    start = time.monotonic()
    try:
        client.connect()
    except Refused:
        emit(action="connect", ok=False, result="refused",
             error="the server refused us (authentication failed)")
        return 3
    except (Disconnected, TimeoutError) as e:
        emit(action="connect", ok=False, result="no-connection", error=str(e))
        return 4
    emit(action="connect", ok=True, result="connected",
         seconds=round(time.monotonic() - start, 3))

    pending = list(args.actions)
    from_stdin = []
    lines = None
    status = 0
    while True:
        if pending:
            action = pending.pop(0)
        elif from_stdin:
            if lines is None:
                lines = queue.Queue()
                threading.Thread(target=stdin_reader, args=(lines,), daemon=True).start()
            got = []

            def have_line():
                try:
                    got.append(lines.get_nowait())
                    return True
                except queue.Empty:
                    return False

            try:
                client.run_until(have_line, "a line on stdin", timeout=24 * 3600)
            except (Refused, Disconnected) as e:
                emit(action="stdin", ok=False, error="connection lost: %s" % e)
                return 4
            if got[0] is None:
                break
            action = got[0]
            if not action:
                continue
        else:
            break
        try:
            result = run_action(client, action, from_stdin)
        except Refused:
            emit(action=action, ok=False, result="refused", error="the server refused us")
            return 3
        except Disconnected as e:
            emit(action=action, ok=False, error="connection lost: %s" % e)
            return 4
        except (TimeoutError, ValueError, RuntimeError, KeyError, IndexError, OSError) as e:
            emit(action=action, ok=False, error=str(e))
            status = 1
            continue
        if result is not None:
            emit(**result)
    client.close()
    return status


if __name__ == "__main__":
    sys.exit(main())

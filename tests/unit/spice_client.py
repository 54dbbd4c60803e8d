#!/usr/bin/python3
"""A scripted SPICE client for tests/unit/test_spice_display.c.

Connects with SpiceClientGLib (GObject introspection; needs Debian's
/usr/bin/python3 with python3-gi and gir1.2-spiceclientglib-2.0), waits
until the inputs channel is open (and, for pointer actions, the server
granted client-mouse mode), then does what the options say. It connects
to --uri, or as remote-viewer would to what a connection file (virt-viewer's
.vv format, --connect-file) says: host, port, tls-port, password, ca.

  --keys 0x1e,0x11d    press and release each scancode (spice-gtk's
                       numbering: 0x100 | code for 0xe0-prefixed keys)
  --position X,Y       move the pointer to X,Y on display 0
  --motion DX,DY       move the pointer by DX,DY (server-mouse mode, as
                       spice-server has it with more than one display)
  --click              press and release the left button there
  --wheel-up           one wheel step away from the user
  --monitor WxH[,WxH]  ask for displays 0, 1, ... to be W x H (the client's
                       window sizes), once the agent takes monitor configs
  --display N          the display channel to watch (default 0)
  --hold               then stay connected, print "ready" and take commands
                       on stdin: "dump PATH" writes what display N shows
                       now as a PPM and prints "dumped" ("dumped nothing"
                       between surfaces); "quit" leaves. The
                       server going away ends it too ("disconnected").
                       Meanwhile each cursor shape the server sets prints
                       "cursor-set W H HOT_X HOT_Y FIRST_PIXEL_HEX", and a
                       hidden cursor "cursor-hide".

Without --hold it prints "done" and exits 0 once all is sent. Failures:
"auth-failed" and 3 for a refused password; "timeout" (after --timeout
seconds, holding included) or a channel error, and 2.

GObject traps: Session and Channel have their own connect() that opens a
connection and hides GObject's signal connect(), so signals are connected
with GObject.Object.connect and connections opened with
SpiceClientGLib.Session.connect / SpiceClientGLib.Channel.connect.
"""

import argparse
import ctypes
import os
import sys
import tempfile

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject, SpiceClientGLib as Spice  # noqa: E402

MOUSE_MODE_CLIENT = 2
BUTTON_LEFT = 1
BUTTON_UP = 4
BUTTON_MASK_LEFT = 1
VD_AGENT_CAP_MONITORS_CONFIG = 1
# Time for the last messages to leave before the connection goes.
FLUSH_MS = 300
ERRORS = (Spice.ChannelEvent.ERROR_CONNECT, Spice.ChannelEvent.ERROR_IO,
          Spice.ChannelEvent.ERROR_LINK, Spice.ChannelEvent.ERROR_TLS)


class Client:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.state = "connecting"      # then "holding", then "finished"
        self.status = 2
        self.main = None
        self.inputs = None
        self.inputs_open = False
        self.primary = None            # (width, height, stride, address) of the display
        self.session = Spice.Session()
        if args.connect_file:
            self.read_connect_file(args.connect_file)
        else:
            self.session.set_property("uri", args.uri)
        if args.password is not None:
            self.session.set_property("password", args.password)
        if args.ca_file:
            self.session.set_property("ca-file", args.ca_file)
        GObject.Object.connect(self.session, "channel-new", self.on_channel_new)

    def read_connect_file(self, path):
        """What remote-viewer takes from a .vv file, read with the same
        parser (GLib's key files), escapes and all."""
        kf = GLib.KeyFile()
        kf.load_from_file(path, GLib.KeyFileFlags.NONE)
        group = "virt-viewer"
        keys = kf.get_keys(group)[0]
        if kf.get_string(group, "type") != "spice":
            raise SystemExit("connect-file: type is not spice")
        self.session.set_property("host", kf.get_string(group, "host"))
        for key in ("port", "tls-port", "password"):
            if key in keys:
                self.session.set_property(key, kf.get_string(group, key))
        if "ca" in keys:
            fd, ca_path = tempfile.mkstemp(suffix=".pem")
            with os.fdopen(fd, "w") as f:
                f.write(kf.get_string(group, "ca"))
            self.session.set_property("ca-file", ca_path)
            self.ca_path = ca_path

    def run(self):
        GLib.timeout_add(int(self.args.timeout * 1000), self.on_timeout)
        if not Spice.Session.connect(self.session):
            print("cannot-connect", flush=True)
            return 2
        self.loop.run()
        self.session.disconnect()
        if getattr(self, "ca_path", None):
            os.unlink(self.ca_path)
        return self.status

    def finish(self, line, status):
        if self.state == "finished":
            return
        self.state = "finished"
        self.status = status
        print(line, flush=True)
        GLib.timeout_add(FLUSH_MS, self.loop.quit)

    def on_timeout(self):
        self.finish("timeout", 2)
        return False

    # ---- channels ----

    def on_channel_new(self, session, channel):
        if isinstance(channel, Spice.MainChannel):
            self.main = channel
            GObject.Object.connect(channel, "channel-event", self.on_event)
            GObject.Object.connect(channel, "main-mouse-update", lambda c: self.maybe_act())
            GObject.Object.connect(channel, "main-agent-update", lambda c: self.maybe_act())
        elif isinstance(channel, Spice.InputsChannel):
            self.inputs = channel
            GObject.Object.connect(channel, "channel-event", self.on_event)
            Spice.Channel.connect(channel)
        elif isinstance(channel, Spice.CursorChannel):
            GObject.Object.connect(channel, "cursor-set", self.on_cursor_set)
            GObject.Object.connect(channel, "cursor-hide", self.on_cursor_hide)
            Spice.Channel.connect(channel)
        elif (isinstance(channel, Spice.DisplayChannel)
              and channel.get_property("channel-id") == self.args.display):
            GObject.Object.connect(channel, "display-primary-create", self.on_primary)
            GObject.Object.connect(channel, "display-primary-destroy", self.on_no_primary)
            GObject.Object.connect(channel, "channel-event", self.on_event)
            Spice.Channel.connect(channel)

    def on_primary(self, channel, fmt, width, height, stride, shmid, address):
        self.primary = (width, height, stride, address)
        self.maybe_act()

    def on_no_primary(self, channel):
        self.primary = None

    def on_cursor_set(self, channel, width, height, hot_x, hot_y, address):
        if self.state == "holding" and address:
            first = ctypes.string_at(address, 4).hex()
            print("cursor-set %d %d %d %d %s" % (width, height, hot_x, hot_y, first),
                  flush=True)

    def on_cursor_hide(self, channel):
        if self.state == "holding":
            print("cursor-hide", flush=True)

    def on_event(self, channel, event):
        if event == Spice.ChannelEvent.ERROR_AUTH:
            self.finish("auth-failed", 3)
        elif event in ERRORS or event == Spice.ChannelEvent.CLOSED:
            if self.state == "holding":
                self.finish("disconnected", 0)
            else:
                self.finish("channel-error %s" % event.value_nick, 2)
        elif event == Spice.ChannelEvent.OPENED and channel is self.inputs:
            self.inputs_open = True
            self.maybe_act()

    # ---- the script ----

    def ready(self):
        if not (self.main and self.inputs_open):
            return False
        # Absolute positions go through only in client-mouse mode, which
        # spice-server grants with a single display.
        pointing = self.args.position or self.args.click or self.args.wheel_up
        if pointing and self.main.get_property("mouse-mode") != MOUSE_MODE_CLIENT:
            return False
        if self.args.monitor and not self.main.agent_test_capability(
                VD_AGENT_CAP_MONITORS_CONFIG):
            return False
        return self.primary is not None or not self.args.hold

    def maybe_act(self):
        if self.state != "connecting" or not self.ready():
            return
        inputs = self.inputs
        for code in self.args.keys:
            inputs.key_press(code)
            inputs.key_release(code)
        if self.args.position:
            x, y = self.args.position
            inputs.position(x, y, 0, 0)
        if self.args.motion:
            dx, dy = self.args.motion
            inputs.motion(dx, dy, 0)
        if self.args.click:
            inputs.button_press(BUTTON_LEFT, 0)
            inputs.button_release(BUTTON_LEFT, BUTTON_MASK_LEFT)
        if self.args.wheel_up:
            inputs.button_press(BUTTON_UP, 0)
            inputs.button_release(BUTTON_UP, 0)
        if self.args.monitor:
            left = 0
            for display, (width, height) in enumerate(self.args.monitor):
                self.main.update_display_enabled(display, True, False)
                self.main.update_display(display, left, 0, width, height, False)
                left += width
            if not self.main.send_monitor_config():
                self.finish("monitor-config-refused", 2)
                return
        if not self.args.hold:
            self.finish("done", 0)
            return
        self.state = "holding"
        GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT,
                          GLib.IOCondition.IN | GLib.IOCondition.HUP, self.on_command)
        print("ready", flush=True)

    def on_command(self, source, condition):
        line = sys.stdin.readline()
        words = line.split()
        if not words or words[0] == "quit":
            self.finish("bye", 0)
            return False
        if words[0] == "dump" and len(words) == 2:
            self.dump(words[1])
        return True

    def dump(self, path):
        if not self.primary:
            print("dumped nothing: no primary surface now", flush=True)
            return
        width, height, stride, address = self.primary
        raw = ctypes.string_at(address, stride * height)
        rgb = bytearray(width * height * 3)
        for y in range(height):
            row = raw[y * stride:y * stride + width * 4]
            line = slice(y * width * 3, (y + 1) * width * 3)
            # xRGB surfaces are B, G, R, X in memory.
            rgb[line.start:line.stop:3] = row[2::4]
            rgb[line.start + 1:line.stop:3] = row[1::4]
            rgb[line.start + 2:line.stop:3] = row[0::4]
        with open(path, "wb") as f:
            f.write(b"P6 %d %d 255\n" % (width, height))
            f.write(rgb)
        print("dumped", flush=True)


def pair(text, sep):
    a, b = text.split(sep)
    return int(a), int(b)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--uri")
    where.add_argument("--connect-file", help="a .vv file, as remote-viewer opens it")
    parser.add_argument("--password")
    parser.add_argument("--ca-file", help="the CA certificate a TLS server must match")
    parser.add_argument("--keys", default=[],
                        type=lambda s: [int(k, 0) for k in s.split(",") if k])
    parser.add_argument("--position", type=lambda s: pair(s, ","))
    parser.add_argument("--motion", type=lambda s: pair(s, ","))
    parser.add_argument("--click", action="store_true")
    parser.add_argument("--wheel-up", action="store_true")
    parser.add_argument("--monitor", type=lambda s: [pair(m, "x") for m in s.split(",")])
    parser.add_argument("--display", type=int, default=0)
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--timeout", type=float, default=6.0)
    return Client(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())

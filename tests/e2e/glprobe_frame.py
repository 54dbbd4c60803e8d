#!/usr/bin/python3
"""Checks a SPICE client's dump (spice_client.py's dump=FILE, a P6 PPM)
against glprobe's last frame (tests/guest-tools/glprobe.c): the left half
red, the right half blue, the top eighth green, every pixel, so a frame
shown upside down fails too.

    glprobe_frame.py FILE WIDTH HEIGHT

Prints "ok", or what differs (the first pixel that does)."""
import sys


def main():
    path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        data = open(path, "rb").read()
    except OSError as e:
        print("no picture from the client: %s" % e)
        return
    # spice_client.py's dump: "P6\nW H\n255\n" and the RGB bytes.
    _magic, pw, ph, _maxval = data.split(maxsplit=4)[:4]
    if (int(pw), int(ph)) != (w, h):
        print("the client has %sx%s, the guest's mode is %dx%d" % (pw.decode(), ph.decode(), w, h))
        return
    pixels = data[len(data) - 3 * w * h:]
    red, blue, green = b"\xff\x00\x00", b"\x00\x00\xff", b"\x00\xff\x00"
    half, strip = w // 2, h // 8
    bad, first = 0, None
    for y in range(h):
        want = green * w if y < strip else red * half + blue * (w - half)
        got = pixels[3 * w * y:3 * w * (y + 1)]
        if got != want:
            bad += 1
            if first is None:
                x = next(i for i in range(w) if got[3 * i:3 * i + 3] != want[3 * i:3 * i + 3])
                first = "first at (%d,%d): got %s, want %s" % (
                    x, y, tuple(got[3 * x:3 * x + 3]), tuple(want[3 * x:3 * x + 3]))
    print("ok" if not bad else "%d of %d rows differ, %s" % (bad, h, first))


if __name__ == "__main__":
    main()

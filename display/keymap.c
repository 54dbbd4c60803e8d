/* Set 1 scancodes to evdev codes (display/keymap.h). */
#include "keymap.h"

#include <linux/input-event-codes.h>

#define SCANCODE_RELEASE   0x80
#define PREFIX_EXTENDED    0xe0
#define PREFIX_PAUSE       0xe1
#define PAUSE_FIRST        0x1d
#define PAUSE_SECOND       0x45
/* Left and right shift, which keyboards also send after 0xe0 around the
 * navigation keys so that a guest tracking shift state sees them
 * unshifted; the evdev stream has no such thing. */
#define FAKE_SHIFT_LEFT    0x2a
#define FAKE_SHIFT_RIGHT   0x36

static const uint16_t base_keys[0x80] = {
	[0x01] = KEY_ESC,
	[0x02] = KEY_1, [0x03] = KEY_2, [0x04] = KEY_3, [0x05] = KEY_4, [0x06] = KEY_5,
	[0x07] = KEY_6, [0x08] = KEY_7, [0x09] = KEY_8, [0x0a] = KEY_9, [0x0b] = KEY_0,
	[0x0c] = KEY_MINUS, [0x0d] = KEY_EQUAL, [0x0e] = KEY_BACKSPACE, [0x0f] = KEY_TAB,
	[0x10] = KEY_Q, [0x11] = KEY_W, [0x12] = KEY_E, [0x13] = KEY_R, [0x14] = KEY_T,
	[0x15] = KEY_Y, [0x16] = KEY_U, [0x17] = KEY_I, [0x18] = KEY_O, [0x19] = KEY_P,
	[0x1a] = KEY_LEFTBRACE, [0x1b] = KEY_RIGHTBRACE, [0x1c] = KEY_ENTER,
	[0x1d] = KEY_LEFTCTRL,
	[0x1e] = KEY_A, [0x1f] = KEY_S, [0x20] = KEY_D, [0x21] = KEY_F, [0x22] = KEY_G,
	[0x23] = KEY_H, [0x24] = KEY_J, [0x25] = KEY_K, [0x26] = KEY_L,
	[0x27] = KEY_SEMICOLON, [0x28] = KEY_APOSTROPHE, [0x29] = KEY_GRAVE,
	[0x2a] = KEY_LEFTSHIFT, [0x2b] = KEY_BACKSLASH,
	[0x2c] = KEY_Z, [0x2d] = KEY_X, [0x2e] = KEY_C, [0x2f] = KEY_V, [0x30] = KEY_B,
	[0x31] = KEY_N, [0x32] = KEY_M,
	[0x33] = KEY_COMMA, [0x34] = KEY_DOT, [0x35] = KEY_SLASH, [0x36] = KEY_RIGHTSHIFT,
	[0x37] = KEY_KPASTERISK, [0x38] = KEY_LEFTALT, [0x39] = KEY_SPACE,
	[0x3a] = KEY_CAPSLOCK,
	[0x3b] = KEY_F1, [0x3c] = KEY_F2, [0x3d] = KEY_F3, [0x3e] = KEY_F4, [0x3f] = KEY_F5,
	[0x40] = KEY_F6, [0x41] = KEY_F7, [0x42] = KEY_F8, [0x43] = KEY_F9, [0x44] = KEY_F10,
	[0x45] = KEY_NUMLOCK, [0x46] = KEY_SCROLLLOCK,
	[0x47] = KEY_KP7, [0x48] = KEY_KP8, [0x49] = KEY_KP9, [0x4a] = KEY_KPMINUS,
	[0x4b] = KEY_KP4, [0x4c] = KEY_KP5, [0x4d] = KEY_KP6, [0x4e] = KEY_KPPLUS,
	[0x4f] = KEY_KP1, [0x50] = KEY_KP2, [0x51] = KEY_KP3, [0x52] = KEY_KP0,
	[0x53] = KEY_KPDOT,
	[0x54] = KEY_SYSRQ,          /* Alt+Print Screen */
	[0x56] = KEY_102ND,          /* the extra key left of Z on ISO keyboards */
	[0x57] = KEY_F11, [0x58] = KEY_F12,
	[0x59] = KEY_KPEQUAL,
	[0x70] = KEY_KATAKANAHIRAGANA, [0x73] = KEY_RO, [0x79] = KEY_HENKAN,
	[0x7b] = KEY_MUHENKAN, [0x7d] = KEY_YEN, [0x7e] = KEY_KPCOMMA,
};

static const uint16_t extended_keys[0x80] = {
	[0x10] = KEY_PREVIOUSSONG, [0x19] = KEY_NEXTSONG,
	[0x1c] = KEY_KPENTER, [0x1d] = KEY_RIGHTCTRL,
	[0x20] = KEY_MUTE, [0x21] = KEY_CALC, [0x22] = KEY_PLAYPAUSE, [0x24] = KEY_STOPCD,
	[0x2e] = KEY_VOLUMEDOWN, [0x30] = KEY_VOLUMEUP, [0x32] = KEY_HOMEPAGE,
	[0x35] = KEY_KPSLASH, [0x37] = KEY_SYSRQ, [0x38] = KEY_RIGHTALT,
	[0x46] = KEY_PAUSE,          /* Ctrl+Pause, i.e. Break */
	[0x47] = KEY_HOME, [0x48] = KEY_UP, [0x49] = KEY_PAGEUP,
	[0x4b] = KEY_LEFT, [0x4d] = KEY_RIGHT,
	[0x4f] = KEY_END, [0x50] = KEY_DOWN, [0x51] = KEY_PAGEDOWN,
	[0x52] = KEY_INSERT, [0x53] = KEY_DELETE,
	[0x5b] = KEY_LEFTMETA, [0x5c] = KEY_RIGHTMETA, [0x5d] = KEY_COMPOSE,
	[0x5e] = KEY_POWER, [0x5f] = KEY_SLEEP, [0x63] = KEY_WAKEUP,
	[0x65] = KEY_SEARCH, [0x66] = KEY_BOOKMARKS, [0x67] = KEY_REFRESH, [0x68] = KEY_STOP,
	[0x69] = KEY_FORWARD, [0x6a] = KEY_BACK, [0x6b] = KEY_COMPUTER, [0x6c] = KEY_MAIL,
	[0x6d] = KEY_MEDIA,
};

uint16_t keymap_set1_to_evdev(uint16_t scancode)
{
	if (scancode < 0x80)
		return base_keys[scancode];
	if ((scancode & 0xff80) == (PREFIX_EXTENDED << 8))
		return extended_keys[scancode & 0x7f];
	return 0;
}

bool keymap_decode(struct keymap_decoder *dec, uint8_t byte, uint16_t *evdev_code,
		   bool *pressed)
{
	uint8_t prefix = dec->prefix;
	uint8_t code = byte & ~SCANCODE_RELEASE;
	uint16_t evdev;

	if (prefix == PREFIX_PAUSE) {
		if (!dec->pause_first) {
			dec->pause_first = byte;
			return false;
		}
		evdev = (dec->pause_first & ~SCANCODE_RELEASE) == PAUSE_FIRST &&
			code == PAUSE_SECOND ? KEY_PAUSE : 0;
		dec->prefix = 0;
		dec->pause_first = 0;
	} else if (byte == PREFIX_EXTENDED || byte == PREFIX_PAUSE) {
		dec->prefix = byte;
		dec->pause_first = 0;
		return false;
	} else if (prefix == PREFIX_EXTENDED) {
		dec->prefix = 0;
		if (code == FAKE_SHIFT_LEFT || code == FAKE_SHIFT_RIGHT)
			return false;
		evdev = keymap_set1_to_evdev((uint16_t)(PREFIX_EXTENDED << 8 | code));
	} else {
		evdev = keymap_set1_to_evdev(code);
	}
	if (!evdev)
		return false;
	*evdev_code = evdev;
	*pressed = !(byte & SCANCODE_RELEASE);
	return true;
}

/* PC keyboard scancodes, set 1 (what SPICE clients send, one byte at a
 * time), to Linux evdev key codes (what virtio-input hands the guest).
 *
 * Set 1: a byte 0x01-0x7f presses a key, the same byte with 0x80 set
 * releases it; 0xe0 before it selects the extended keys (right Ctrl and
 * Alt, arrows, the navigation block, keypad Enter and /, Meta, Menu,
 * media keys); Pause is the one key sent as 0xe1 0x1d 0x45 (and 0xe1 0x9d
 * 0xc5 for its release). Pure. */
#ifndef GVMM_KEYMAP_H
#define GVMM_KEYMAP_H

#include <stdbool.h>
#include <stdint.h>

/* A scancode as one number: 0x00-0x7f, or 0xe000 | code for extended
 * keys. Returns the evdev KEY_* code, 0 for codes with no key. */
uint16_t keymap_set1_to_evdev(uint16_t scancode);

/* Turns the byte stream into key events. Zero-initialise. */
struct keymap_decoder {
	uint8_t prefix;       /* 0, 0xe0 or 0xe1: the prefix waiting for its code */
	uint8_t pause_first;  /* after 0xe1, the byte that came next (0 until then) */
};

/* Feeds one byte; true when it completed a key event, given in *evdev_code
 * and *pressed. Bytes that end no event (prefixes, the fake shifts some
 * keyboards wrap around extended keys, unknown codes) give false. */
bool keymap_decode(struct keymap_decoder *dec, uint8_t byte, uint16_t *evdev_code,
		   bool *pressed);

#endif

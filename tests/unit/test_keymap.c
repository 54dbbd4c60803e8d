/* Set 1 scancodes to evdev: the table (checked against the numbers Linux
 * assigns, not against the header the table is written with) and the
 * byte-stream decoder (prefixes, releases, Pause, fake shifts). */
#include "check.h"

#include "../../display/keymap.h"

/* Decodes a byte sequence; returns how many events it gave, the last in
 * *code / *pressed. */
static int feed(struct keymap_decoder *dec, const uint8_t *bytes, size_t n, uint16_t *code,
		bool *pressed)
{
	int events = 0;

	for (size_t i = 0; i < n; i++)
		if (keymap_decode(dec, bytes[i], code, pressed))
			events++;
	return events;
}

static void test_letters_digits_and_function_keys(void)
{
	/* Linux's numbers: KEY_A 30, KEY_Q 16, KEY_Z 44, KEY_1 2, KEY_0 11,
	 * KEY_F1 59 .. KEY_F10 68, KEY_F11 87, KEY_F12 88. */
	CHECK_EQ(keymap_set1_to_evdev(0x1e), 30);
	CHECK_EQ(keymap_set1_to_evdev(0x10), 16);
	CHECK_EQ(keymap_set1_to_evdev(0x2c), 44);
	CHECK_EQ(keymap_set1_to_evdev(0x32), 50);    /* M */
	CHECK_EQ(keymap_set1_to_evdev(0x02), 2);
	CHECK_EQ(keymap_set1_to_evdev(0x0b), 11);
	for (uint16_t f = 0; f < 10; f++)
		CHECK_EQ(keymap_set1_to_evdev(0x3b + f), 59 + f);
	CHECK_EQ(keymap_set1_to_evdev(0x57), 87);
	CHECK_EQ(keymap_set1_to_evdev(0x58), 88);
	CHECK_EQ(keymap_set1_to_evdev(0x01), 1);     /* Esc */
	CHECK_EQ(keymap_set1_to_evdev(0x1c), 28);    /* Enter */
	CHECK_EQ(keymap_set1_to_evdev(0x39), 57);    /* Space */
	CHECK_EQ(keymap_set1_to_evdev(0x0e), 14);    /* Backspace */
	CHECK_EQ(keymap_set1_to_evdev(0x0f), 15);    /* Tab */
	CHECK_EQ(keymap_set1_to_evdev(0x29), 41);    /* ` */
	CHECK_EQ(keymap_set1_to_evdev(0x56), 86);    /* ISO extra key */
}

static void test_modifiers_and_locks(void)
{
	CHECK_EQ(keymap_set1_to_evdev(0x2a), 42);              /* left shift */
	CHECK_EQ(keymap_set1_to_evdev(0x36), 54);              /* right shift */
	CHECK_EQ(keymap_set1_to_evdev(0x1d), 29);              /* left ctrl */
	CHECK_EQ(keymap_set1_to_evdev(0xe01d), 97);            /* right ctrl */
	CHECK_EQ(keymap_set1_to_evdev(0x38), 56);              /* left alt */
	CHECK_EQ(keymap_set1_to_evdev(0xe038), 100);           /* right alt (AltGr) */
	CHECK_EQ(keymap_set1_to_evdev(0xe05b), 125);           /* left meta */
	CHECK_EQ(keymap_set1_to_evdev(0xe05c), 126);           /* right meta */
	CHECK_EQ(keymap_set1_to_evdev(0xe05d), 127);           /* menu (KEY_COMPOSE) */
	CHECK_EQ(keymap_set1_to_evdev(0x3a), 58);              /* caps lock */
	CHECK_EQ(keymap_set1_to_evdev(0x45), 69);              /* num lock */
	CHECK_EQ(keymap_set1_to_evdev(0x46), 70);              /* scroll lock */
}

static void test_navigation_block(void)
{
	CHECK_EQ(keymap_set1_to_evdev(0xe047), 102);   /* Home */
	CHECK_EQ(keymap_set1_to_evdev(0xe048), 103);   /* Up */
	CHECK_EQ(keymap_set1_to_evdev(0xe049), 104);   /* PgUp */
	CHECK_EQ(keymap_set1_to_evdev(0xe04b), 105);   /* Left */
	CHECK_EQ(keymap_set1_to_evdev(0xe04d), 106);   /* Right */
	CHECK_EQ(keymap_set1_to_evdev(0xe04f), 107);   /* End */
	CHECK_EQ(keymap_set1_to_evdev(0xe050), 108);   /* Down */
	CHECK_EQ(keymap_set1_to_evdev(0xe051), 109);   /* PgDn */
	CHECK_EQ(keymap_set1_to_evdev(0xe052), 110);   /* Insert */
	CHECK_EQ(keymap_set1_to_evdev(0xe053), 111);   /* Delete */
	CHECK_EQ(keymap_set1_to_evdev(0xe037), 99);    /* Print Screen (KEY_SYSRQ) */
}

static void test_keypad(void)
{
	/* Without 0xe0 the navigation codes are the keypad's. */
	CHECK_EQ(keymap_set1_to_evdev(0x47), 71);      /* KP7 */
	CHECK_EQ(keymap_set1_to_evdev(0x48), 72);      /* KP8 */
	CHECK_EQ(keymap_set1_to_evdev(0x52), 82);      /* KP0 */
	CHECK_EQ(keymap_set1_to_evdev(0x53), 83);      /* KP. */
	CHECK_EQ(keymap_set1_to_evdev(0x37), 55);      /* KP* */
	CHECK_EQ(keymap_set1_to_evdev(0x4a), 74);      /* KP- */
	CHECK_EQ(keymap_set1_to_evdev(0x4e), 78);      /* KP+ */
	CHECK_EQ(keymap_set1_to_evdev(0xe01c), 96);    /* KP Enter */
	CHECK_EQ(keymap_set1_to_evdev(0xe035), 98);    /* KP / */
}

static void test_table_has_no_duplicates_or_gaps(void)
{
	static uint8_t seen[768];
	int base_keys = 0;

	memset(seen, 0, sizeof(seen));
	for (uint16_t c = 0; c < 0x80; c++) {
		uint16_t k = keymap_set1_to_evdev(c);

		if (!k)
			continue;
		base_keys++;
		CHECK(k < sizeof(seen));
		/* 0x54 (Alt+Print Screen) is the only base code that shares a
		 * key with an extended one (0xe0 0x37). */
		if (c != 0x54) {
			CHECK_EQ(seen[k], 0);
			seen[k] = 1;
		}
	}
	/* Every code from Esc to keypad . is a key. */
	for (uint16_t c = 0x01; c <= 0x53; c++)
		CHECK(keymap_set1_to_evdev(c) != 0);
	CHECK(base_keys >= 0x53 + 4);
	for (uint16_t c = 0; c < 0x80; c++) {
		uint16_t k = keymap_set1_to_evdev(0xe000 | c);

		if (k && k != 119 /* Pause: also e1 1d 45 */) {
			CHECK_EQ(seen[k], 0);
			seen[k] = 1;
		}
	}
	CHECK_EQ(keymap_set1_to_evdev(0x00), 0);
	CHECK_EQ(keymap_set1_to_evdev(0x7f), 0);
	CHECK_EQ(keymap_set1_to_evdev(0xe000), 0);
	CHECK_EQ(keymap_set1_to_evdev(0xe02a), 0);     /* a fake shift is no key */
	CHECK_EQ(keymap_set1_to_evdev(0x80), 0);
	CHECK_EQ(keymap_set1_to_evdev(0xe11d), 0);
}

static void test_decode_press_and_release(void)
{
	struct keymap_decoder dec = { 0 };
	uint16_t code = 0;
	bool pressed = false;

	CHECK(keymap_decode(&dec, 0x1e, &code, &pressed));
	CHECK_EQ(code, 30);
	CHECK(pressed);
	CHECK(keymap_decode(&dec, 0x9e, &code, &pressed));
	CHECK_EQ(code, 30);
	CHECK(!pressed);
}

static void test_decode_extended(void)
{
	struct keymap_decoder dec = { 0 };
	uint16_t code = 0;
	bool pressed = false;

	CHECK(!keymap_decode(&dec, 0xe0, &code, &pressed));
	CHECK(keymap_decode(&dec, 0x1d, &code, &pressed));
	CHECK_EQ(code, 97);
	CHECK(pressed);
	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe0, 0x9d }, 2, &code, &pressed), 1);
	CHECK_EQ(code, 97);
	CHECK(!pressed);
	/* The prefix applies to one code only. */
	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe0, 0x48, 0x48 }, 3, &code, &pressed), 2);
	CHECK_EQ(code, 72);
}

static void test_decode_ignores_fake_shifts(void)
{
	struct keymap_decoder dec = { 0 };
	uint16_t code = 0;
	bool pressed = false;

	/* Print Screen as some keyboards send it: e0 2a e0 37 ... e0 b7 e0 aa */
	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe0, 0x2a, 0xe0, 0x37 }, 4, &code, &pressed), 1);
	CHECK_EQ(code, 99);
	CHECK(pressed);
	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe0, 0xb7, 0xe0, 0xaa }, 4, &code, &pressed), 1);
	CHECK_EQ(code, 99);
	CHECK(!pressed);
	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe0, 0x36, 0xe0, 0xb6 }, 4, &code, &pressed), 0);
	/* A real shift still counts. */
	CHECK(keymap_decode(&dec, 0x2a, &code, &pressed));
	CHECK_EQ(code, 42);
}

static void test_decode_pause(void)
{
	struct keymap_decoder dec = { 0 };
	uint16_t code = 0;
	bool pressed = false;

	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe1, 0x1d, 0x45 }, 3, &code, &pressed), 1);
	CHECK_EQ(code, 119);
	CHECK(pressed);
	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe1, 0x9d, 0xc5 }, 3, &code, &pressed), 1);
	CHECK_EQ(code, 119);
	CHECK(!pressed);
	/* The whole make-and-break sequence gives both events. */
	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5 }, 6, &code,
		      &pressed), 2);
	/* Something else after 0xe1 is swallowed, and the stream recovers. */
	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe1, 0x10, 0x11, 0x1e }, 4, &code, &pressed), 1);
	CHECK_EQ(code, 30);
	/* Ctrl+Pause (Break) is e0 46. */
	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe0, 0x46 }, 2, &code, &pressed), 1);
	CHECK_EQ(code, 119);
}

static void test_decode_unknown(void)
{
	struct keymap_decoder dec = { 0 };
	uint16_t code = 0xabcd;
	bool pressed = true;

	CHECK(!keymap_decode(&dec, 0x7f, &code, &pressed));
	CHECK_EQ(feed(&dec, (const uint8_t[]){ 0xe0, 0x01 }, 2, &code, &pressed), 0);
	CHECK_EQ(code, 0xabcd);   /* untouched when there is no event */
	CHECK(keymap_decode(&dec, 0x02, &code, &pressed));
	CHECK_EQ(code, 2);
}

TEST_MAIN("keymap",
	TEST_CASE(test_letters_digits_and_function_keys),
	TEST_CASE(test_modifiers_and_locks),
	TEST_CASE(test_navigation_block),
	TEST_CASE(test_keypad),
	TEST_CASE(test_table_has_no_duplicates_or_gaps),
	TEST_CASE(test_decode_press_and_release),
	TEST_CASE(test_decode_extended),
	TEST_CASE(test_decode_ignores_fake_shifts),
	TEST_CASE(test_decode_pause),
	TEST_CASE(test_decode_unknown))

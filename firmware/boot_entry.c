/* Reading a distribution's boot entries: BLS entry files, and the default
 * entry of a grub.cfg. The grub.cfg reader knows just enough of GRUB's
 * script language to walk what grub-mkconfig writes: words with quoting
 * and escapes, commands ended by newlines or ';', blocks in braces. It
 * runs nothing and expands no variable. */
#include "boot_entry.h"
#include "../vmm/error_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRUB_MAX_WORDS     128
#define GRUB_COMMAND_MAX   8192
#define GRUB_MAX_DEPTH     16

static bool is_blank(char c)
{
	/* '\r' too: a file written on another system keeps its CRLFs. */
	return c == ' ' || c == '\t' || c == '\r';
}

/* Copies len bytes as a string; false when they do not fit. */
static bool copy_text(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		return false;
	memcpy(dst, src, len);
	dst[len] = 0;
	return true;
}

/* Appends src to dst, after a space unless dst is empty. */
static bool append_words(char *dst, size_t size, const char *src, size_t len)
{
	size_t used = strlen(dst);
	size_t sep = used ? 1 : 0;

	if (used + sep + len >= size)
		return false;
	if (sep)
		dst[used++] = ' ';
	memcpy(dst + used, src, len);
	dst[used + len] = 0;
	return true;
}

/* Titles and messages go to a terminal in one line: no control bytes. */
static void make_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void make_entry_printable(struct boot_entry *e)
{
	make_printable(e->title);
	make_printable(e->id);
	make_printable(e->version);
	make_printable(e->sort_key);
	make_printable(e->chosen_by);
}

/* ---- Boot Loader Specification entries ---- */

static bool key_is(const char *key, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(key, name, len) == 0;
}

static bool bls_take_value(struct boot_entry *out, const char *key, size_t key_len,
			   const char *value, size_t value_len)
{
	if (key_is(key, key_len, "title"))
		return copy_text(out->title, sizeof(out->title), value, value_len);
	if (key_is(key, key_len, "version"))
		return copy_text(out->version, sizeof(out->version), value, value_len);
	if (key_is(key, key_len, "sort-key"))
		return copy_text(out->sort_key, sizeof(out->sort_key), value, value_len);
	if (key_is(key, key_len, "linux"))
		return copy_text(out->linux_path, sizeof(out->linux_path), value, value_len);
	if (key_is(key, key_len, "options"))
		return append_words(out->options, sizeof(out->options), value, value_len);
	if (key_is(key, key_len, "initrd")) {
		if (out->nr_initrds == BOOT_ENTRY_MAX_INITRDS)
			return false;
		return copy_text(out->initrd_paths[out->nr_initrds++], BOOT_ENTRY_PATH_MAX,
				 value, value_len);
	}
	return true;  /* machine-id, architecture, efi, devicetree: not ours */
}

int bls_entry_parse(const char *buf, size_t len, const char *file_name,
		    struct boot_entry *out, char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	size_t name_len = strlen(file_name);
	unsigned line = 0;

	memset(out, 0, sizeof(*out));
	if (name_len > 5 && strcmp(file_name + name_len - 5, ".conf") == 0)
		name_len -= 5;
	snprintf(out->id, sizeof(out->id), "%.*s", (int)name_len, file_name);
	if (memchr(buf, 0, len)) {
		snprintf(err, errlen, "a NUL byte: not a text file");
		return -1;
	}
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *key = p, *key_end, *value, *value_end;

		if (!eol)
			eol = end;
		line++;
		p = eol < end ? eol + 1 : end;
		while (key < eol && is_blank(*key))
			key++;
		if (key == eol || *key == '#')
			continue;
		key_end = key;
		while (key_end < eol && !is_blank(*key_end))
			key_end++;
		value = key_end;
		while (value < eol && is_blank(*value))
			value++;
		value_end = eol;
		while (value_end > value && is_blank(value_end[-1]))
			value_end--;
		if (!bls_take_value(out, key, (size_t)(key_end - key), value,
				    (size_t)(value_end - value))) {
			snprintf(err, errlen, "line %u: '%.*s' is too long or repeated too often "
				 "(at most %d initrd lines)", line, (int)(key_end - key), key,
				 BOOT_ENTRY_MAX_INITRDS);
			make_printable(err);
			return -1;
		}
	}
	if (!out->linux_path[0]) {
		snprintf(err, errlen, "no 'linux' line (an entry for an EFI program?)");
		return -1;
	}
	make_entry_printable(out);
	return 0;
}

int bls_entry_order(const struct boot_entry *a, const struct boot_entry *b)
{
	bool a_keyed = a->sort_key[0] != 0, b_keyed = b->sort_key[0] != 0;
	int c;

	if (a_keyed != b_keyed)
		return a_keyed ? -1 : 1;
	if (a_keyed && (c = strcmp(a->sort_key, b->sort_key)) != 0)
		return c;
	if ((c = strverscmp(b->version, a->version)) != 0)
		return c;
	return strverscmp(b->id, a->id);
}

/* ---- grub.cfg: words and commands ---- */

struct grub_command {
	unsigned nr_words;
	char *words[GRUB_MAX_WORDS];
	bool bare[GRUB_MAX_WORDS];     /* no quote or escape in it */
	char text[GRUB_COMMAND_MAX];
	size_t used;
};

struct grub_lexer {
	const char *p, *end;
};

enum lex_result { LEX_COMMAND, LEX_END, LEX_TOO_LONG, LEX_OPEN_QUOTE };

static bool put_char(struct grub_command *cmd, char c)
{
	if (cmd->used + 1 >= sizeof(cmd->text))
		return false;
	cmd->text[cmd->used++] = c;
	return true;
}

/* Reads one word at lx->p into cmd. */
static enum lex_result lex_word(struct grub_lexer *lx, struct grub_command *cmd)
{
	char *word = cmd->text + cmd->used;
	bool bare = true;

	while (lx->p < lx->end) {
		char c = *lx->p;

		if (is_blank(c) || c == '\n' || c == ';')
			break;
		lx->p++;
		if (c == '\'') {
			/* Everything up to the next quote, as it is. */
			bare = false;
			while (lx->p < lx->end && *lx->p != '\'')
				if (!put_char(cmd, *lx->p++))
					return LEX_TOO_LONG;
			if (lx->p == lx->end)
				return LEX_OPEN_QUOTE;
			lx->p++;
		} else if (c == '"') {
			/* A backslash escapes only $ " \ and a newline here. */
			bare = false;
			while (lx->p < lx->end && *lx->p != '"') {
				if (*lx->p == '\\' && lx->p + 1 < lx->end &&
				    strchr("$\"\\\n", lx->p[1])) {
					lx->p++;
					if (*lx->p == '\n') {
						lx->p++;
						continue;
					}
				}
				if (!put_char(cmd, *lx->p++))
					return LEX_TOO_LONG;
			}
			if (lx->p == lx->end)
				return LEX_OPEN_QUOTE;
			lx->p++;
		} else if (c == '\\') {
			/* The next character as it is; a newline just continues. */
			bare = false;
			if (lx->p < lx->end) {
				c = *lx->p++;
				if (c != '\n' && !put_char(cmd, c))
					return LEX_TOO_LONG;
			}
		} else if (!put_char(cmd, c)) {
			return LEX_TOO_LONG;
		}
	}
	if (cmd->used >= sizeof(cmd->text))
		return LEX_TOO_LONG;
	cmd->text[cmd->used++] = 0;
	cmd->words[cmd->nr_words] = word;
	cmd->bare[cmd->nr_words] = bare;
	cmd->nr_words++;
	return LEX_COMMAND;
}

/* Reads the next command (perhaps of no words) into cmd. */
static enum lex_result lex_command(struct grub_lexer *lx, struct grub_command *cmd)
{
	cmd->nr_words = 0;
	cmd->used = 0;
	if (lx->p >= lx->end)
		return LEX_END;
	while (lx->p < lx->end) {
		char c = *lx->p;
		enum lex_result r;

		if (is_blank(c)) {
			lx->p++;
		} else if (c == '\n' || c == ';') {
			lx->p++;
			break;
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '\\' && lx->p + 1 < lx->end && lx->p[1] == '\n') {
			lx->p += 2;
		} else {
			if (cmd->nr_words == GRUB_MAX_WORDS)
				return LEX_TOO_LONG;
			r = lex_word(lx, cmd);
			if (r != LEX_COMMAND)
				return r;
		}
	}
	return LEX_COMMAND;
}

/* ---- grub.cfg: the menu ---- */

enum grub_block { BLOCK_MENUENTRY, BLOCK_SUBMENU, BLOCK_OTHER };

struct grub_walk {
	bool finding_default;          /* first pass: only 'set default=' */
	char err[256];

	/* The default as a path of parts, one per menu level. */
	char default_value[BOOT_ENTRY_TEXT_MAX];
	bool have_default;
	char parts_text[BOOT_ENTRY_TEXT_MAX];
	const char *parts[GRUB_MAX_DEPTH + 1];
	unsigned nr_parts;

	enum grub_block blocks[GRUB_MAX_DEPTH];
	unsigned depth;
	unsigned menu_level;                      /* submenus open */
	unsigned other_blocks;                    /* functions, etc. open */
	unsigned counts[GRUB_MAX_DEPTH + 1];      /* entries seen per level */
	bool on_path[GRUB_MAX_DEPTH + 1];         /* submenus so far match */

	char global_root[BOOT_ENTRY_TEXT_MAX];    /* a top-level search */
	bool in_entry;
	bool entry_is_default;
	struct boot_entry entry;                  /* the one being read */
	struct boot_entry first;
	bool have_first;
	struct boot_entry *chosen;
	bool have_chosen;
	struct grub_command cmd;
};

static void split_default(struct grub_walk *w)
{
	char *p = w->parts_text;

	snprintf(w->parts_text, sizeof(w->parts_text), "%s", w->default_value);
	w->nr_parts = 0;
	while (w->nr_parts < GRUB_MAX_DEPTH) {
		char *sep = strchr(p, '>');

		w->parts[w->nr_parts++] = p;
		if (!sep)
			break;
		*sep = 0;
		p = sep + 1;
	}
}

static bool part_matches(const char *part, unsigned index, const char *title, const char *id)
{
	size_t digits = strspn(part, "0123456789");

	if (digits && !part[digits])
		return digits < 10 && strtoul(part, NULL, 10) == index;
	return strcmp(part, title) == 0 || (id[0] && strcmp(part, id) == 0);
}

/* "(hd0,gpt2)/boot/vmlinuz" and "($root)/vmlinuz" name paths on a device. */
static const char *strip_device(const char *path)
{
	const char *close;

	if (path[0] == '(' && (close = strchr(path, ')')) != NULL)
		return close + 1;
	return path;
}

static int open_menu_item(struct grub_walk *w, char **words, unsigned n)
{
	bool submenu = strcmp(words[0], "submenu") == 0;
	unsigned level = w->menu_level;
	unsigned index = w->counts[level]++;
	char title[BOOT_ENTRY_TEXT_MAX], id[BOOT_ENTRY_TEXT_MAX] = "";
	bool matches;

	/* words: menuentry TITLE [--class C]... [--id ID | $menuentry_id_option ID] { */
	snprintf(title, sizeof(title), "%s", n > 2 ? words[1] : "");
	for (unsigned k = 2; k + 1 < n; k++) {
		if (strcmp(words[k], "--id") == 0 || strcmp(words[k], "$menuentry_id_option") == 0) {
			if (k + 2 < n)
				snprintf(id, sizeof(id), "%s", words[++k]);
		} else if (strncmp(words[k], "--id=", 5) == 0) {
			snprintf(id, sizeof(id), "%s", words[k] + 5);
		} else if (strcmp(words[k], "--class") == 0 || strcmp(words[k], "--users") == 0 ||
			   strcmp(words[k], "--hotkey") == 0) {
			k++;
		}
	}
	matches = w->have_default && w->on_path[level] && level < w->nr_parts &&
		  part_matches(w->parts[level], index, title, id);
	if (submenu) {
		/* A default naming a submenu boots the submenu's first entry. */
		if (matches && level + 1 == w->nr_parts && w->nr_parts <= GRUB_MAX_DEPTH)
			w->parts[w->nr_parts++] = "0";
		w->blocks[w->depth++] = BLOCK_SUBMENU;
		w->menu_level++;
		w->counts[w->menu_level] = 0;
		w->on_path[w->menu_level] = matches;
		return 0;
	}
	w->blocks[w->depth++] = BLOCK_MENUENTRY;
	w->in_entry = true;
	w->entry_is_default = matches && level + 1 == w->nr_parts;
	memset(&w->entry, 0, sizeof(w->entry));
	snprintf(w->entry.title, sizeof(w->entry.title), "%s", title);
	snprintf(w->entry.id, sizeof(w->entry.id), "%s", id);
	snprintf(w->entry.root_uuid, sizeof(w->entry.root_uuid), "%s", w->global_root);
	return 0;
}

static void close_menu_entry(struct grub_walk *w)
{
	w->in_entry = false;
	if (!w->have_first) {
		w->first = w->entry;
		w->have_first = true;
	}
	if (w->entry_is_default && !w->have_chosen) {
		*w->chosen = w->entry;
		snprintf(w->chosen->chosen_by, sizeof(w->chosen->chosen_by), "default=%s",
			 w->default_value);
		w->have_chosen = true;
	}
}

static int close_block(struct grub_walk *w)
{
	if (w->depth == 0)
		return write_error(w->err, sizeof(w->err), "a '}' closes no block");
	switch (w->blocks[--w->depth]) {
	case BLOCK_MENUENTRY:
		if (!w->finding_default)
			close_menu_entry(w);
		w->in_entry = false;
		break;
	case BLOCK_SUBMENU:
		w->menu_level--;
		break;
	case BLOCK_OTHER:
		w->other_blocks--;
		break;
	}
	return 0;
}

static int open_block(struct grub_walk *w, char **words, unsigned n)
{
	if (w->depth == GRUB_MAX_DEPTH)
		return write_error(w->err, sizeof(w->err), "blocks nested too deep (more than %d)", GRUB_MAX_DEPTH);
	/* Menu entries inside a function or another entry are not in the menu. */
	if (n >= 2 && w->other_blocks == 0 && !w->in_entry &&
	    (strcmp(words[0], "menuentry") == 0 || strcmp(words[0], "submenu") == 0))
		return open_menu_item(w, words, n);
	w->blocks[w->depth++] = BLOCK_OTHER;
	w->other_blocks++;
	return 0;
}

/* search --fs-uuid --set=root [--hint...] UUID: which file system the
 * paths that follow are on. */
static void take_search(char **words, unsigned n, char *root, size_t size)
{
	bool by_uuid = false, sets_root = false;
	const char *uuid = NULL;

	for (unsigned k = 1; k < n; k++) {
		const char *word = words[k];

		if (strcmp(word, "--fs-uuid") == 0 || strcmp(word, "-u") == 0)
			by_uuid = true;
		else if (strcmp(word, "--set") == 0 || strcmp(word, "-s") == 0)
			sets_root = true;
		else if (strncmp(word, "--set=", 6) == 0)
			sets_root = strcmp(word + 6, "root") == 0;
		else if (word[0] != '-')
			uuid = word;
	}
	if (by_uuid && sets_root && uuid && !strchr(uuid, '$'))
		snprintf(root, size, "%s", uuid);
}

/* A word that needs quoting on the kernel command line gets it. */
static bool append_argument(char *options, size_t size, const char *word)
{
	char quoted[BOOT_ENTRY_OPTIONS_MAX];

	if (!strpbrk(word, " \t"))
		return append_words(options, size, word, strlen(word));
	if ((size_t)snprintf(quoted, sizeof(quoted), "\"%s\"", word) >= sizeof(quoted))
		return false;
	return append_words(options, size, quoted, strlen(quoted));
}

static int take_entry_command(struct grub_walk *w, char **words, unsigned n)
{
	struct boot_entry *e = &w->entry;
	const char *cmd = words[0];

	if ((strcmp(cmd, "linux") == 0 || strcmp(cmd, "linux16") == 0 ||
	     strcmp(cmd, "linuxefi") == 0) && n >= 2) {
		if (!copy_text(e->linux_path, sizeof(e->linux_path), strip_device(words[1]),
			       strlen(strip_device(words[1]))))
			return write_error(w->err, sizeof(w->err), "entry '%.200s': the kernel's path is too long", e->title);
		e->options[0] = 0;
		for (unsigned k = 2; k < n; k++)
			if (!strchr(words[k], '$') &&
			    !append_argument(e->options, sizeof(e->options), words[k]))
				return write_error(w->err, sizeof(w->err), "entry '%.200s': its linux line is too long", e->title);
	} else if (strcmp(cmd, "initrd") == 0 || strcmp(cmd, "initrd16") == 0 ||
		   strcmp(cmd, "initrdefi") == 0) {
		e->nr_initrds = 0;
		for (unsigned k = 1; k < n; k++) {
			const char *path = strip_device(words[k]);

			if (e->nr_initrds == BOOT_ENTRY_MAX_INITRDS)
				return write_error(w->err, sizeof(w->err), "entry '%.200s': more than %d initrds", e->title,
						 BOOT_ENTRY_MAX_INITRDS);
			if (!copy_text(e->initrd_paths[e->nr_initrds++], BOOT_ENTRY_PATH_MAX,
				       path, strlen(path)))
				return write_error(w->err, sizeof(w->err), "entry '%.200s': an initrd's path is too long",
						 e->title);
		}
	} else if (strcmp(cmd, "search") == 0) {
		take_search(words, n, e->root_uuid, sizeof(e->root_uuid));
	}
	return 0;
}

static int take_command(struct grub_walk *w, char **words, unsigned n)
{
	if (w->finding_default) {
		if (w->depth == 0 && strcmp(words[0], "set") == 0 && n >= 2 &&
		    strncmp(words[1], "default=", 8) == 0 && !strchr(words[1], '$')) {
			snprintf(w->default_value, sizeof(w->default_value), "%s", words[1] + 8);
			w->have_default = true;
		}
		return 0;
	}
	if (w->in_entry)
		return take_entry_command(w, words, n);
	if (w->depth == 0 && strcmp(words[0], "search") == 0)
		take_search(words, n, w->global_root, sizeof(w->global_root));
	return 0;
}

static bool is_brace(const struct grub_command *cmd, unsigned i, const char *brace)
{
	return cmd->bare[i] && strcmp(cmd->words[i], brace) == 0;
}

/* A command line may hold several pieces: "menuentry 'x' {", "}" and the
 * commands between them; each is handled in turn. */
static int take_line(struct grub_walk *w, struct grub_command *cmd)
{
	char **words = cmd->words;
	unsigned i = 0;

	while (i < cmd->nr_words) {
		unsigned j = i;

		while (j < cmd->nr_words && !is_brace(cmd, j, "{") && !is_brace(cmd, j, "}"))
			j++;
		if (j < cmd->nr_words && is_brace(cmd, j, "{")) {
			if (open_block(w, words + i, j - i + 1) < 0)
				return -1;
		} else {
			if (j > i && take_command(w, words + i, j - i) < 0)
				return -1;
			if (j < cmd->nr_words && close_block(w) < 0)
				return -1;
		}
		i = j + 1;
	}
	return 0;
}

static int walk_grub_cfg(struct grub_walk *w, const char *buf, size_t len)
{
	struct grub_lexer lx = { buf, buf + len };
	enum lex_result r;

	w->depth = w->menu_level = w->other_blocks = 0;
	w->counts[0] = 0;
	w->on_path[0] = true;
	w->in_entry = false;
	while ((r = lex_command(&lx, &w->cmd)) == LEX_COMMAND)
		if (take_line(w, &w->cmd) < 0)
			return -1;
	if (r == LEX_TOO_LONG)
		return write_error(w->err, sizeof(w->err), "a command longer than %d bytes or %d words",
				 GRUB_COMMAND_MAX, GRUB_MAX_WORDS);
	if (r == LEX_OPEN_QUOTE)
		return write_error(w->err, sizeof(w->err), "a quote never closed");
	if (w->depth)
		return write_error(w->err, sizeof(w->err), "a '{' never closed");
	return 0;
}

int grub_cfg_default_entry(const char *buf, size_t len, struct boot_entry *out,
			   char *err, size_t errlen)
{
	struct grub_walk *w = calloc(1, sizeof(*w));
	int ret = -1;

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	w->chosen = out;
	w->finding_default = true;
	if (walk_grub_cfg(w, buf, len) < 0)
		goto done;
	if (w->have_default)
		split_default(w);
	w->finding_default = false;
	if (walk_grub_cfg(w, buf, len) < 0)
		goto done;
	if (!w->have_chosen) {
		if (!w->have_first) {
			snprintf(w->err, sizeof(w->err), "no menuentry");
			goto done;
		}
		*out = w->first;
		if (w->have_default)
			snprintf(out->chosen_by, sizeof(out->chosen_by),
				 "first entry: default=%s names none", w->default_value);
		else
			snprintf(out->chosen_by, sizeof(out->chosen_by), "first entry");
	}
	if (!out->linux_path[0]) {
		snprintf(w->err, sizeof(w->err), "entry '%.200s' has no linux line", out->title);
		goto done;
	}
	make_entry_printable(out);
	ret = 0;
done:
	if (ret < 0) {
		snprintf(err, errlen, "%s", w->err);
		make_printable(err);
	}
	free(w);
	return ret;
}

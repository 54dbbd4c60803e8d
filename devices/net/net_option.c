#include "net_option.h"
#include "../../vmm/error_text.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_backend.h"

#define HOSTFWD_SYNTAX "tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"
#define MAC_EXAMPLE    "52:54:00:12:34:56"
/* One option of the value, copied out so the parsers below get a string;
 * longer than any meaningful option (a hostfwd rule is at most ~50). */
#define OPTION_MAX     128

/* A piece of the argument: the text between two commas. */
struct span {
	const char *p;
	size_t len;
};

/* ---- MAC addresses ---- */

enum mac_verdict { MAC_OK, MAC_MALFORMED, MAC_NOT_UNICAST };

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static enum mac_verdict read_mac(const char *text, uint8_t mac[6])
{
	uint8_t bytes[6];

	/* Exactly "xx:xx:xx:xx:xx:xx": no shortened groups, no other
	 * separators, nothing after. */
	if (strlen(text) != 17)
		return MAC_MALFORMED;
	for (unsigned i = 0; i < 6; i++) {
		const char *g = text + 3 * i;
		int hi = hex_digit(g[0]), lo = hex_digit(g[1]);

		if (hi < 0 || lo < 0 || (i < 5 && g[2] != ':'))
			return MAC_MALFORMED;
		bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	/* The low bit of the first octet makes a group address, which no NIC
	 * may own; all zeros is no station's address either (Linux refuses
	 * it as a device address). */
	if (bytes[0] & 1)
		return MAC_NOT_UNICAST;
	if (!(bytes[0] | bytes[1] | bytes[2] | bytes[3] | bytes[4] | bytes[5]))
		return MAC_NOT_UNICAST;
	memcpy(mac, bytes, 6);
	return MAC_OK;
}

int net_parse_mac(const char *text, uint8_t mac[6])
{
	return text && read_mac(text, mac) == MAC_OK ? 0 : -1;
}

/* ---- host forwards ---- */

/* A decimal port; 0 or -1 with the reason in err. */
static int parse_port(const char *rule, const char *text, uint16_t *port,
		      char *err, size_t errlen)
{
	unsigned long v;
	char *end;

	if (!*text)
		return write_error(err, errlen, "hostfwd '%s': a port is missing: expected %s",
			    rule, HOSTFWD_SYNTAX);
	for (const char *c = text; *c; c++)
		if (!isdigit((unsigned char)*c))
			return write_error(err, errlen, "hostfwd '%s': port '%s' is not a number",
				    rule, text);
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || v < 1 || v > 65535)
		return write_error(err, errlen, "port %s out of range 1..65535", text);
	*port = (uint16_t)v;
	return 0;
}

/* An IPv4 address in dotted-quad form, or the default when empty. */
static int parse_addr(const char *rule, const char *text, const char *fallback,
		      struct in_addr *addr, char *err, size_t errlen)
{
	if (!*text)
		text = fallback;
	if (inet_pton(AF_INET, text, addr) != 1)
		return write_error(err, errlen, "hostfwd '%s': '%s' is not an IPv4 address like 127.0.0.1",
			    rule, text);
	return 0;
}

/* Splits text at each sep into at most max fields (pointers into text,
 * which is modified); returns how many there were, or max + 1 for more. */
static unsigned split(char *text, char sep, char **fields, unsigned max)
{
	unsigned n = 0;

	for (char *p = text; ; p++) {
		if (n == max)
			return max + 1;
		fields[n++] = p;
		p = strchr(p, sep);
		if (!p)
			return n;
		*p = '\0';
	}
}

/* RULE: [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, where the
 * protocol with its colon may also be left out (tcp). Addresses are IPv4
 * and ports decimal, so neither holds the '-' between the two halves. */
static int parse_hostfwd(const char *rule, struct net_hostfwd *fwd,
			 char *err, size_t errlen)
{
	char text[OPTION_MAX];
	char *halves[2], *host[3], *guest[2];
	const char *proto = "tcp", *host_addr, *host_port;
	unsigned nh;

	memset(fwd, 0, sizeof(*fwd));
	snprintf(text, sizeof(text), "%s", rule);
	if (split(text, '-', halves, 2) != 2)
		goto malformed;
	nh = split(halves[0], ':', host, 3);
	if (nh == 3) {
		proto = host[0];
		host_addr = host[1];
		host_port = host[2];
	} else if (nh == 2) {
		host_addr = host[0];
		host_port = host[1];
	} else {
		goto malformed;
	}
	if (split(halves[1], ':', guest, 2) != 2)
		goto malformed;
	/* "tcp:8080-:80" reads as address "tcp": the address's colon was
	 * left out, which the general message explains best. */
	if (nh == 2 && (!strcmp(host_addr, "tcp") || !strcmp(host_addr, "udp")))
		goto malformed;

	if (!strcmp(proto, "udp"))
		fwd->udp = true;
	else if (*proto && strcmp(proto, "tcp"))
		return write_error(err, errlen, "hostfwd '%s': protocol '%s' is not tcp or udp",
			    rule, proto);
	if (parse_addr(rule, host_addr, "127.0.0.1", &fwd->host_addr, err, errlen) < 0 ||
	    parse_port(rule, host_port, &fwd->host_port, err, errlen) < 0 ||
	    parse_addr(rule, guest[0], "0.0.0.0", &fwd->guest_addr, err, errlen) < 0 ||
	    parse_port(rule, guest[1], &fwd->guest_port, err, errlen) < 0)
		return -1;
	return 0;

malformed:
	return write_error(err, errlen, "hostfwd '%s': expected %s", rule, HOSTFWD_SYNTAX);
}

static bool same_host_side(const struct net_hostfwd *a, const struct net_hostfwd *b)
{
	return a->udp == b->udp && a->host_port == b->host_port &&
	       a->host_addr.s_addr == b->host_addr.s_addr;
}

static int add_hostfwd(struct net_config *cfg, const char *rule, char *err, size_t errlen)
{
	struct net_hostfwd fwd;
	char addr[INET_ADDRSTRLEN];

	if (cfg->nr_hostfwds == NET_MAX_HOSTFWDS)
		return write_error(err, errlen, "at most %d hostfwd rules", NET_MAX_HOSTFWDS);
	if (parse_hostfwd(rule, &fwd, err, errlen) < 0)
		return -1;
	/* Two rules on one host socket could not both be bound. */
	for (unsigned i = 0; i < cfg->nr_hostfwds; i++) {
		if (same_host_side(&cfg->hostfwds[i], &fwd)) {
			inet_ntop(AF_INET, &fwd.host_addr, addr, sizeof(addr));
			return write_error(err, errlen, "hostfwd '%s': %s %s:%u is already forwarded",
				    rule, fwd.udp ? "udp" : "tcp", addr, fwd.host_port);
		}
	}
	cfg->hostfwds[cfg->nr_hostfwds++] = fwd;
	return 0;
}

/* ---- TAP settings ---- */

static int set_tap_name(struct net_config *cfg, const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);

	if (!len)
		return write_error(err, errlen, "tap needs a name: tap=NAME");
	if (len > IFNAMSIZ - 1)
		return write_error(err, errlen, "tap name '%s' is longer than %d characters",
			    name, IFNAMSIZ - 1);
	/* The kernel's rules for interface names (it answers EINVAL, which
	 * would say much less). */
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return write_error(err, errlen, "tap name '%s' is not a valid interface name", name);
	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == ':' || isspace((unsigned char)*c) ||
		    iscntrl((unsigned char)*c))
			return write_error(err, errlen,
				    "tap name '%s': an interface name cannot hold '/', ':', whitespace or control characters",
				    name);
	memcpy(cfg->tap_name, name, len + 1);
	return 0;
}

static int set_queues(struct net_config *cfg, const char *value, char *err, size_t errlen)
{
	unsigned long v;
	char *end;

	if (!strcmp(value, "cpus")) {
		cfg->queues = 0;
		return 0;
	}
	if (!isdigit((unsigned char)value[0]))
		return write_error(err, errlen, "queues '%s': use a count 1..%d or cpus (one per vCPU)",
			    value, NET_MAX_PAIRS);
	errno = 0;
	v = strtoul(value, &end, 10);
	if (*end)
		return write_error(err, errlen, "queues '%s': use a count 1..%d or cpus (one per vCPU)",
			    value, NET_MAX_PAIRS);
	if (errno || v < 1 || v > NET_MAX_PAIRS)
		return write_error(err, errlen, "queues %s out of range 1..%d (or cpus, one per vCPU)",
			    value, NET_MAX_PAIRS);
	cfg->queues = (unsigned)v;
	return 0;
}

/* ---- the whole value ---- */

static bool next_span(const char **cursor, struct span *s)
{
	const char *p = *cursor, *comma;

	if (!p)
		return false;
	comma = strchr(p, ',');
	s->p = p;
	s->len = comma ? (size_t)(comma - p) : strlen(p);
	*cursor = comma ? comma + 1 : NULL;
	return true;
}

static bool span_is(const struct span *s, const char *word)
{
	return s->len == strlen(word) && !memcmp(s->p, word, s->len);
}

static const char *usage_for(enum net_kind kind)
{
	return kind == NET_USER ? "user[,hostfwd=RULE]...[,host-loopback=on|off][,mtu=N][,mac=MAC]"
				: "tap=NAME[,queues=N|queues=cpus][,mac=MAC]";
}

/* Which once-only keys were given. */
struct seen_keys {
	bool queues;
	bool host_loopback;
	bool mtu;
};

static int set_mtu(struct net_config *cfg, const char *value, char *err, size_t errlen)
{
	char *end;
	unsigned long mtu;

	errno = 0;
	mtu = strtoul(value, &end, 10);
	if (value[0] < '0' || value[0] > '9' || *end || errno || mtu < NET_USER_MTU_MIN ||
	    mtu > NET_USER_MTU_MAX)
		return write_error(err, errlen, "mtu '%s' is not a number from %d to %d", value,
				   NET_USER_MTU_MIN, NET_USER_MTU_MAX);
	cfg->mtu = (unsigned)mtu;
	return 0;
}

/* One KEY=VALUE after the backend. */
static int parse_setting(struct net_config *cfg, char *key, struct seen_keys *seen,
			 char *err, size_t errlen)
{
	char *value = strchr(key, '=');
	uint8_t mac[6];

	if (!value) {
		if (!strcmp(key, "mac") || !strcmp(key, "hostfwd") || !strcmp(key, "queues") ||
		    !strcmp(key, "host-loopback") || !strcmp(key, "mtu"))
			return write_error(err, errlen, "%s needs a value: %s=...", key, key);
		return write_error(err, errlen, "unknown option '%s': %s takes %s", key,
			    cfg->kind == NET_USER ? "user" : "tap", usage_for(cfg->kind));
	}
	*value++ = '\0';

	if (!strcmp(key, "mac")) {
		if (cfg->mac_given)
			return write_error(err, errlen, "mac given twice");
		switch (read_mac(value, mac)) {
		case MAC_OK:
			break;
		case MAC_MALFORMED:
			return write_error(err, errlen, "mac '%s' is not a MAC address like %s",
				    value, MAC_EXAMPLE);
		case MAC_NOT_UNICAST:
			return write_error(err, errlen, "mac '%s' is not a unicast MAC address like %s",
				    value, MAC_EXAMPLE);
		}
		memcpy(cfg->mac, mac, 6);
		cfg->mac_given = true;
		return 0;
	}
	if (!strcmp(key, "hostfwd")) {
		if (cfg->kind != NET_USER)
			return write_error(err, errlen, "hostfwd is only for user networking");
		return add_hostfwd(cfg, value, err, errlen);
	}
	if (!strcmp(key, "host-loopback")) {
		if (cfg->kind != NET_USER)
			return write_error(err, errlen, "host-loopback is only for user networking");
		if (seen->host_loopback)
			return write_error(err, errlen, "host-loopback given twice");
		seen->host_loopback = true;
		if (!strcmp(value, "on"))
			cfg->host_loopback = true;
		else if (!strcmp(value, "off"))
			cfg->host_loopback = false;
		else
			return write_error(err, errlen, "host-loopback '%s': use on or off", value);
		return 0;
	}
	if (!strcmp(key, "mtu")) {
		if (cfg->kind != NET_USER)
			return write_error(err, errlen, "mtu is only for user networking (a TAP "
					   "link's MTU is the host's to set)");
		if (seen->mtu)
			return write_error(err, errlen, "mtu given twice");
		seen->mtu = true;
		return set_mtu(cfg, value, err, errlen);
	}
	if (!strcmp(key, "queues")) {
		if (cfg->kind != NET_TAP)
			return write_error(err, errlen, "queues is only for tap networking");
		if (seen->queues)
			return write_error(err, errlen, "queues given twice");
		seen->queues = true;
		return set_queues(cfg, value, err, errlen);
	}
	if (!strcmp(key, "tap"))
		return write_error(err, errlen, "tap= must come first: %s", usage_for(NET_TAP));
	return write_error(err, errlen, "unknown option '%s': %s takes %s", key,
		    cfg->kind == NET_USER ? "user" : "tap", usage_for(cfg->kind));
}

/* The first piece: which backend. */
static int parse_backend(struct net_config *cfg, const struct span *s, char *err, size_t errlen)
{
	char name[OPTION_MAX];

	if (span_is(s, "none")) {
		cfg->kind = NET_NONE;
		return 0;
	}
	if (span_is(s, "user")) {
		cfg->kind = NET_USER;
		return 0;
	}
	if (span_is(s, "tap") || (s->len >= 4 && !memcmp(s->p, "tap=", 4))) {
		cfg->kind = NET_TAP;
		if (s->len <= 4)
			return write_error(err, errlen, "tap needs a name: tap=NAME");
		if (s->len - 4 >= sizeof(name))
			return write_error(err, errlen, "tap name '%.*s...' is longer than %d characters",
				    IFNAMSIZ - 1, s->p + 4, IFNAMSIZ - 1);
		snprintf(name, sizeof(name), "%.*s", (int)(s->len - 4), s->p + 4);
		return set_tap_name(cfg, name, err, errlen);
	}
	if (!s->len)
		return write_error(err, errlen, "no backend given: use user, tap=NAME or none");
	if ((s->len > 5 && !memcmp(s->p, "user=", 5)) || (s->len > 5 && !memcmp(s->p, "none=", 5)))
		return write_error(err, errlen, "'%.4s' takes no value: use user, tap=NAME or none", s->p);
	return write_error(err, errlen, "unknown backend '%.*s': use user, tap=NAME or none",
		    (int)(s->len < OPTION_MAX ? s->len : OPTION_MAX), s->p);
}

int net_option_parse(const char *arg, struct net_config *out, char *err, size_t errlen)
{
	struct net_config cfg;
	const char *cursor = arg;
	struct seen_keys seen = { false, false, false };
	struct span s;

	memset(&cfg, 0, sizeof(cfg));
	cfg.queues = 1;
	if (!arg || !next_span(&cursor, &s))
		return write_error(err, errlen, "no backend given: use user, tap=NAME or none");
	if (parse_backend(&cfg, &s, err, errlen) < 0)
		return -1;
	if (cfg.kind == NET_NONE && cursor)
		return write_error(err, errlen, "none takes no options");
	if (cfg.kind == NET_USER)
		cfg.mtu = NET_USER_MTU_DEFAULT;

	while (next_span(&cursor, &s)) {
		char setting[OPTION_MAX];

		if (!s.len)
			return write_error(err, errlen, "empty option (a stray ',')");
		if (s.len >= sizeof(setting))
			return write_error(err, errlen, "option '%.32s...' is too long", s.p);
		snprintf(setting, sizeof(setting), "%.*s", (int)s.len, s.p);
		if (parse_setting(&cfg, setting, &seen, err, errlen) < 0)
			return -1;
	}
	*out = cfg;
	return 0;
}

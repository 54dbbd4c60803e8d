/* The --net parser: every accepted form with its defaults, then each way a
 * value can be wrong and the one-line message it earns. */
#include "check.h"

#include <arpa/inet.h>

#include "../../devices/net/net_backend.h"
#include "../../devices/net/net_option.h"

static struct net_config cfg;
static char err[256];

static int parse(const char *arg)
{
	memset(&cfg, 0xa5, sizeof(cfg));
	err[0] = '\0';
	return net_option_parse(arg, &cfg, err, sizeof(err));
}

/* The value is refused with exactly this message. */
static bool refused_with(const char *arg, const char *message)
{
	if (parse(arg) != -1) {
		fprintf(stderr, "  '%s' was accepted\n", arg);
		return false;
	}
	if (strcmp(err, message)) {
		fprintf(stderr, "  '%s': got \"%s\", wanted \"%s\"\n", arg, err, message);
		return false;
	}
	return true;
}

/* The value is refused with a message holding this text. */
static bool refused_mentioning(const char *arg, const char *text)
{
	if (parse(arg) != -1) {
		fprintf(stderr, "  '%s' was accepted\n", arg);
		return false;
	}
	if (!strstr(err, text) || strchr(err, '\n')) {
		fprintf(stderr, "  '%s': got \"%s\", wanted it to mention \"%s\"\n", arg, err, text);
		return false;
	}
	return true;
}

static uint32_t ip(const char *text)
{
	struct in_addr a;

	inet_pton(AF_INET, text, &a);
	return a.s_addr;
}

static void test_none(void)
{
	CHECK_EQ(parse("none"), 0);
	CHECK_EQ(cfg.kind, NET_NONE);
	CHECK(!cfg.mac_given);
	CHECK_EQ(cfg.nr_hostfwds, 0);
	CHECK(refused_with("none,mac=52:54:00:12:34:56", "none takes no options"));
	CHECK(refused_with("none=1", "'none' takes no value: use user, tap=NAME or none"));
}

static void test_user_defaults(void)
{
	static const uint8_t zero[6];

	CHECK_EQ(parse("user"), 0);
	CHECK_EQ(cfg.kind, NET_USER);
	CHECK(!cfg.mac_given);
	CHECK(!memcmp(cfg.mac, zero, 6));
	CHECK_EQ(cfg.nr_hostfwds, 0);
	CHECK_EQ(cfg.queues, 1);
	CHECK_EQ(cfg.tap_name[0], 0);
	/* The host's 127.0.0.1 is out of the guest's reach unless asked for. */
	CHECK(!cfg.host_loopback);
	CHECK_EQ(cfg.mtu, NET_USER_MTU_DEFAULT);
}

static void test_user_mtu(void)
{
	CHECK_EQ(parse("user,mtu=1500"), 0);
	CHECK_EQ(cfg.mtu, 1500);
	CHECK_EQ(parse("user,hostfwd=tcp::2222-:22,mtu=576"), 0);
	CHECK_EQ(cfg.mtu, 576);
	CHECK_EQ(parse("user,mtu=65520"), 0);
	CHECK_EQ(cfg.mtu, 65520);
	CHECK(refused_with("user,mtu=575", "mtu '575' is not a number from 576 to 65520"));
	CHECK(refused_with("user,mtu=65521", "mtu '65521' is not a number from 576 to 65520"));
	CHECK(refused_with("user,mtu=-1", "mtu '-1' is not a number from 576 to 65520"));
	CHECK(refused_with("user,mtu=9k", "mtu '9k' is not a number from 576 to 65520"));
	CHECK(refused_with("user,mtu=", "mtu '' is not a number from 576 to 65520"));
	CHECK(refused_with("user,mtu=99999999999999999999", "mtu '99999999999999999999' is not a number from 576 to 65520"));
	CHECK(refused_with("user,mtu", "mtu needs a value: mtu=..."));
	CHECK(refused_with("user,mtu=1500,mtu=9000", "mtu given twice"));
	CHECK(refused_with("tap=tap0,mtu=9000", "mtu is only for user networking (a TAP link's MTU is the host's to set)"));
	CHECK_EQ(parse("tap=tap0"), 0);
	CHECK_EQ(cfg.mtu, 0);
}

static void test_user_host_loopback(void)
{
	CHECK_EQ(parse("user,host-loopback=on"), 0);
	CHECK(cfg.host_loopback);
	CHECK_EQ(parse("user,hostfwd=tcp::2222-:22,host-loopback=on,mac=52:54:00:12:34:56"), 0);
	CHECK(cfg.host_loopback);
	CHECK_EQ(cfg.nr_hostfwds, 1);
	CHECK(cfg.mac_given);
	CHECK_EQ(parse("user,host-loopback=off"), 0);
	CHECK(!cfg.host_loopback);
	CHECK(refused_with("user,host-loopback=yes", "host-loopback 'yes': use on or off"));
	CHECK(refused_with("user,host-loopback=", "host-loopback '': use on or off"));
	CHECK(refused_with("user,host-loopback", "host-loopback needs a value: host-loopback=..."));
	CHECK(refused_with("user,host-loopback=on,host-loopback=off", "host-loopback given twice"));
	CHECK(refused_with("tap=tap0,host-loopback=on", "host-loopback is only for user networking"));
}

static void test_user_hostfwd_forms(void)
{
	const struct net_hostfwd *f = cfg.hostfwds;

	CHECK_EQ(parse("user,hostfwd=tcp::8080-:80"), 0);
	CHECK_EQ(cfg.nr_hostfwds, 1);
	CHECK(!f[0].udp);
	CHECK_EQ(f[0].host_addr.s_addr, ip("127.0.0.1"));
	CHECK_EQ(f[0].host_port, 8080);
	CHECK_EQ(f[0].guest_addr.s_addr, 0);
	CHECK_EQ(f[0].guest_port, 80);

	CHECK_EQ(parse("user,hostfwd=udp:0.0.0.0:5353-10.0.2.15:53,"
		       "hostfwd=:2222-:22,hostfwd=::2223-:23,hostfwd=192.168.1.5:443-10.0.2.16:8443"), 0);
	CHECK_EQ(cfg.nr_hostfwds, 4);
	CHECK(f[0].udp);
	CHECK_EQ(f[0].host_addr.s_addr, ip("0.0.0.0"));
	CHECK_EQ(f[0].host_port, 5353);
	CHECK_EQ(f[0].guest_addr.s_addr, ip("10.0.2.15"));
	CHECK_EQ(f[0].guest_port, 53);
	/* The protocol left out, with or without its colon: tcp. */
	CHECK(!f[1].udp);
	CHECK_EQ(f[1].host_addr.s_addr, ip("127.0.0.1"));
	CHECK_EQ(f[1].host_port, 2222);
	CHECK_EQ(f[1].guest_addr.s_addr, 0);
	CHECK_EQ(f[1].guest_port, 22);
	CHECK(!f[2].udp);
	CHECK_EQ(f[2].host_port, 2223);
	CHECK(!f[3].udp);
	CHECK_EQ(f[3].host_addr.s_addr, ip("192.168.1.5"));
	CHECK_EQ(f[3].host_port, 443);
	CHECK_EQ(f[3].guest_addr.s_addr, ip("10.0.2.16"));
	CHECK_EQ(f[3].guest_port, 8443);

	/* Same port, other protocol or other host address: two sockets. */
	CHECK_EQ(parse("user,hostfwd=tcp::53-:53,hostfwd=udp::53-:53,hostfwd=tcp:0.0.0.0:53-:53"), 0);
	CHECK_EQ(cfg.nr_hostfwds, 3);
}

static void test_user_with_mac(void)
{
	static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

	CHECK_EQ(parse("user,mac=52:54:00:AB:cd:eF,hostfwd=tcp::1-:1"), 0);
	CHECK(cfg.mac_given);
	CHECK(!memcmp(cfg.mac, want, 6));
	CHECK_EQ(cfg.nr_hostfwds, 1);
}

static void test_port_boundaries(void)
{
	CHECK_EQ(parse("user,hostfwd=tcp::1-:65535"), 0);
	CHECK_EQ(cfg.hostfwds[0].host_port, 1);
	CHECK_EQ(cfg.hostfwds[0].guest_port, 65535);
	CHECK_EQ(parse("user,hostfwd=udp::65535-:1"), 0);
	CHECK_EQ(cfg.hostfwds[0].host_port, 65535);
	CHECK_EQ(cfg.hostfwds[0].guest_port, 1);
	CHECK(refused_with("user,hostfwd=tcp::0-:80", "port 0 out of range 1..65535"));
	CHECK(refused_with("user,hostfwd=tcp::80-:0", "port 0 out of range 1..65535"));
	CHECK(refused_with("user,hostfwd=tcp::65536-:80", "port 65536 out of range 1..65535"));
	CHECK(refused_with("user,hostfwd=tcp::8080-:70000", "port 70000 out of range 1..65535"));
	CHECK(refused_with("user,hostfwd=tcp::99999999999999999999999-:80",
			   "port 99999999999999999999999 out of range 1..65535"));
	CHECK(refused_with("user,hostfwd=tcp::http-:80",
			   "hostfwd 'tcp::http-:80': port 'http' is not a number"));
	CHECK(refused_with("user,hostfwd=tcp::+80-:80",
			   "hostfwd 'tcp::+80-:80': port '+80' is not a number"));
	CHECK(refused_mentioning("user,hostfwd=tcp::-:80", "a port is missing"));
	CHECK(refused_mentioning("user,hostfwd=tcp::80-:", "a port is missing"));
}

static void test_hostfwd_errors(void)
{
	CHECK(refused_with("user,hostfwd=tcp:8080:80",
			   "hostfwd 'tcp:8080:80': expected tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"));
	CHECK(refused_with("user,hostfwd=tcp:8080-:80",
			   "hostfwd 'tcp:8080-:80': expected tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"));
	CHECK(refused_mentioning("user,hostfwd=8080-80", "expected tcp|udp:"));
	CHECK(refused_mentioning("user,hostfwd=tcp::8080-:80-:90", "expected tcp|udp:"));
	CHECK(refused_mentioning("user,hostfwd=tcp:1.2.3.4:8080:1-:80", "expected tcp|udp:"));
	CHECK(refused_mentioning("user,hostfwd=tcp::8080-10.0.2.15:80:1", "expected tcp|udp:"));
	CHECK(refused_with("user,hostfwd=sctp::8080-:80",
			   "hostfwd 'sctp::8080-:80': protocol 'sctp' is not tcp or udp"));
	CHECK(refused_with("user,hostfwd=tcp:localhost:8080-:80",
			   "hostfwd 'tcp:localhost:8080-:80': 'localhost' is not an IPv4 address like 127.0.0.1"));
	CHECK(refused_mentioning("user,hostfwd=tcp::8080-10.0.2:80", "'10.0.2' is not an IPv4 address"));
	CHECK(refused_mentioning("user,hostfwd=tcp:256.0.0.1:8080-:80", "'256.0.0.1' is not an IPv4"));
	CHECK(refused_with("user,hostfwd", "hostfwd needs a value: hostfwd=..."));
	CHECK(refused_mentioning("user,hostfwd=", "expected tcp|udp:"));
	CHECK(refused_with("user,hostfwd=tcp::8080-:80,hostfwd=tcp:127.0.0.1:8080-:81",
			   "hostfwd 'tcp:127.0.0.1:8080-:81': tcp 127.0.0.1:8080 is already forwarded"));
	CHECK(refused_with("tap=tap0,hostfwd=tcp::8080-:80", "hostfwd is only for user networking"));
}

static void test_hostfwd_limit(void)
{
	char arg[1024] = "user";
	size_t len = strlen(arg);

	for (unsigned i = 0; i < NET_MAX_HOSTFWDS; i++)
		len += (size_t)snprintf(arg + len, sizeof(arg) - len, ",hostfwd=tcp::%u-:22", 2000 + i);
	CHECK_EQ(parse(arg), 0);
	CHECK_EQ(cfg.nr_hostfwds, NET_MAX_HOSTFWDS);
	CHECK_EQ(cfg.hostfwds[NET_MAX_HOSTFWDS - 1].host_port, 2000 + NET_MAX_HOSTFWDS - 1);
	snprintf(arg + len, sizeof(arg) - len, ",hostfwd=udp::9-:9");
	CHECK(refused_with(arg, "at most 16 hostfwd rules"));
}

static void test_tap_defaults(void)
{
	CHECK_EQ(parse("tap=tap0"), 0);
	CHECK_EQ(cfg.kind, NET_TAP);
	CHECK(!strcmp(cfg.tap_name, "tap0"));
	CHECK_EQ(cfg.queues, 1);
	CHECK(!cfg.mac_given);
	CHECK_EQ(cfg.nr_hostfwds, 0);
}

static void test_tap_queues(void)
{
	static const uint8_t want[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	CHECK_EQ(parse("tap=vm0,queues=4,mac=02:00:00:00:00:01"), 0);
	CHECK_EQ(cfg.queues, 4);
	CHECK(cfg.mac_given);
	CHECK(!memcmp(cfg.mac, want, 6));
	CHECK_EQ(parse("tap=vm0,mac=02:00:00:00:00:01,queues=cpus"), 0);
	CHECK_EQ(cfg.queues, 0);
	CHECK_EQ(parse("tap=vm0,queues=1"), 0);
	CHECK_EQ(cfg.queues, 1);
	CHECK_EQ(parse("tap=vm0,queues=16"), 0);
	CHECK_EQ(cfg.queues, NET_MAX_PAIRS);
	CHECK(refused_with("tap=vm0,queues=0", "queues 0 out of range 1..16 (or cpus, one per vCPU)"));
	CHECK(refused_with("tap=vm0,queues=17", "queues 17 out of range 1..16 (or cpus, one per vCPU)"));
	CHECK(refused_with("tap=vm0,queues=many", "queues 'many': use a count 1..16 or cpus (one per vCPU)"));
	CHECK(refused_mentioning("tap=vm0,queues=2x", "queues '2x'"));
	CHECK(refused_mentioning("tap=vm0,queues=", "queues ''"));
	CHECK(refused_with("tap=vm0,queues=2,queues=2", "queues given twice"));
	CHECK(refused_with("user,queues=2", "queues is only for tap networking"));
}

static void test_tap_names(void)
{
	char longest[IFNAMSIZ], too_long[IFNAMSIZ + 1];

	memset(longest, 'n', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memset(too_long, 'n', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';

	{
		char arg[64];

		snprintf(arg, sizeof(arg), "tap=%s", longest);
		CHECK_EQ(parse(arg), 0);
		CHECK_EQ(strlen(cfg.tap_name), IFNAMSIZ - 1);
		CHECK(!strcmp(cfg.tap_name, longest));
		snprintf(arg, sizeof(arg), "tap=%s,queues=2", too_long);
		CHECK(refused_with(arg, "tap name 'nnnnnnnnnnnnnnnn' is longer than 15 characters"));
	}
	CHECK_EQ(parse("tap=a"), 0);
	CHECK(!strcmp(cfg.tap_name, "a"));
	/* The kernel numbers a name with %d itself. */
	CHECK_EQ(parse("tap=gvmm%d"), 0);
	CHECK(refused_with("tap", "tap needs a name: tap=NAME"));
	CHECK(refused_with("tap=", "tap needs a name: tap=NAME"));
	CHECK(refused_with("tap,queues=2", "tap needs a name: tap=NAME"));
	CHECK(refused_with("tap=,mac=52:54:00:12:34:56", "tap needs a name: tap=NAME"));
	CHECK(refused_mentioning("tap=a/b", "cannot hold '/'"));
	CHECK(refused_mentioning("tap=a b", "whitespace"));
	CHECK(refused_mentioning("tap=a\tb", "whitespace"));
	CHECK(refused_mentioning("tap=eth0:1", "':'"));
	CHECK(refused_mentioning("tap=..", "not a valid interface name"));
	CHECK(refused_mentioning("tap=nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
				 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
				 "longer than 15 characters"));
}

static void test_mac_errors(void)
{
	CHECK(refused_with("user,mac=01:00:5e:00:00:01",
			   "mac '01:00:5e:00:00:01' is not a unicast MAC address like 52:54:00:12:34:56"));
	CHECK(refused_with("user,mac=ff:ff:ff:ff:ff:ff",
			   "mac 'ff:ff:ff:ff:ff:ff' is not a unicast MAC address like 52:54:00:12:34:56"));
	CHECK(refused_with("user,mac=52:54:00:12:34",
			   "mac '52:54:00:12:34' is not a MAC address like 52:54:00:12:34:56"));
	CHECK(refused_mentioning("tap=t,mac=52-54-00-12-34-56", "is not a MAC address"));
	CHECK(refused_mentioning("tap=t,mac=", "is not a MAC address"));
	CHECK(refused_with("user,mac", "mac needs a value: mac=..."));
	CHECK(refused_with("user,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57", "mac given twice"));
}

static void test_parse_mac(void)
{
	uint8_t mac[6] = { 0 };
	static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	static const uint8_t low[6] = { 0x02, 0xff, 0xfe, 0xa0, 0x0b, 0xc9 };

	CHECK_EQ(net_parse_mac("52:54:00:12:34:56", mac), 0);
	CHECK(!memcmp(mac, want, 6));
	CHECK_EQ(net_parse_mac("02:FF:fe:A0:0b:C9", mac), 0);
	CHECK(!memcmp(mac, low, 6));
	/* Refused ones leave mac alone. */
	CHECK_EQ(net_parse_mac("03:00:00:00:00:01", mac), -1);
	CHECK(!memcmp(mac, low, 6));
	CHECK_EQ(net_parse_mac("ff:ff:ff:ff:ff:ff", mac), -1);
	CHECK_EQ(net_parse_mac("00:00:00:00:00:00", mac), -1);
	CHECK_EQ(net_parse_mac("2:54:00:12:34:56", mac), -1);
	CHECK_EQ(net_parse_mac("052:54:00:12:34:56", mac), -1);
	CHECK_EQ(net_parse_mac("52:54:00:12:34:56:", mac), -1);
	CHECK_EQ(net_parse_mac("52:54:00:12:34:56:78", mac), -1);
	CHECK_EQ(net_parse_mac("52:54:00:12:34:5g", mac), -1);
	CHECK_EQ(net_parse_mac("52-54-00-12-34-56", mac), -1);
	CHECK_EQ(net_parse_mac("52:54:00:12:34: 6", mac), -1);
	CHECK_EQ(net_parse_mac("525400123456", mac), -1);
	CHECK_EQ(net_parse_mac("", mac), -1);
	CHECK_EQ(net_parse_mac(NULL, mac), -1);
}

static void test_backend_and_option_errors(void)
{
	CHECK(refused_with("foo", "unknown backend 'foo': use user, tap=NAME or none"));
	CHECK(refused_with("foo,mac=52:54:00:12:34:56", "unknown backend 'foo': use user, tap=NAME or none"));
	CHECK(refused_with("User", "unknown backend 'User': use user, tap=NAME or none"));
	CHECK(refused_with("", "no backend given: use user, tap=NAME or none"));
	CHECK(refused_with(",user", "no backend given: use user, tap=NAME or none"));
	CHECK(refused_with("user=x", "'user' takes no value: use user, tap=NAME or none"));
	CHECK(refused_with("user,", "empty option (a stray ',')"));
	CHECK(refused_with("user,,mac=52:54:00:12:34:56", "empty option (a stray ',')"));
	CHECK(refused_with("user,foo=1",
			   "unknown option 'foo': user takes user[,hostfwd=RULE]...[,host-loopback=on|off][,mtu=N][,mac=MAC]"));
	CHECK(refused_with("tap=t,bar",
			   "unknown option 'bar': tap takes tap=NAME[,queues=N|queues=cpus][,mac=MAC]"));
	CHECK(refused_mentioning("user,tap=t", "tap= must come first"));
	CHECK(refused_mentioning("tap=t,tap=u", "tap= must come first"));
	CHECK(refused_mentioning("user,hostfwd=tcp::1-:1111111111111111111111111111111111111111111111111"
				 "1111111111111111111111111111111111111111111111111111111111111111111111111111",
				 "is too long"));
	CHECK(net_option_parse("foo", &cfg, NULL, 0) == -1);
}

TEST_MAIN("net_option",
	TEST_CASE(test_none),
	TEST_CASE(test_user_defaults),
	TEST_CASE(test_user_hostfwd_forms),
	TEST_CASE(test_user_host_loopback),
	TEST_CASE(test_user_mtu),
	TEST_CASE(test_user_with_mac),
	TEST_CASE(test_port_boundaries),
	TEST_CASE(test_hostfwd_errors),
	TEST_CASE(test_hostfwd_limit),
	TEST_CASE(test_tap_defaults),
	TEST_CASE(test_tap_queues),
	TEST_CASE(test_tap_names),
	TEST_CASE(test_mac_errors),
	TEST_CASE(test_parse_mac),
	TEST_CASE(test_backend_and_option_errors))

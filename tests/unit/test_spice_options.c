/* The --spice parser: every accepted form with its defaults, then each
 * way an option can be wrong and the one line it earns. */
#include "check.h"

#include "../../display/spice_options.h"

static struct spice_options opt;
static char err[512];

static int parse(const char *arg)
{
	memset(&opt, 0xa5, sizeof(opt));
	err[0] = '\0';
	return spice_options_parse(arg, &opt, err, sizeof(err));
}

/* The value is refused with a one-line message holding this text. */
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

static void test_port_only_means_loopback(void)
{
	CHECK_EQ(parse(":5900"), 0);
	CHECK(!strcmp(opt.addr, "127.0.0.1"));
	CHECK_EQ(opt.port, 5900);
	CHECK_EQ(opt.unix_path[0], 0);
	CHECK_EQ(opt.password[0], 0);
	CHECK_EQ(opt.password_file[0], 0);
	CHECK(!opt.disable_ticketing);
	/* The ticket is settled later (spice_ticket_settle), from a file,
	 * the environment, or made up. */
	CHECK_EQ(opt.ticket, SPICE_TICKET_UNSETTLED);
	CHECK_EQ(opt.connect_file[0], 0);
	CHECK_EQ(opt.tls_port, 0);
	CHECK_EQ(opt.x509_dir[0], 0);
	CHECK(!opt.plaintext);
	CHECK_EQ(opt.video_codecs[0], 0);
	CHECK_EQ(opt.streaming, SPICE_STREAMING_FILTER);
	CHECK_EQ(opt.refresh_hz, 60);
	CHECK_EQ(opt.gl, SPICE_GL_AUTO);
}

static void test_address_forms(void)
{
	CHECK_EQ(parse("127.0.0.1:5901"), 0);
	CHECK(!strcmp(opt.addr, "127.0.0.1"));
	CHECK_EQ(opt.port, 5901);
	CHECK_EQ(parse("localhost:1"), 0);
	CHECK(!strcmp(opt.addr, "localhost"));
	CHECK_EQ(opt.port, 1);
	CHECK_EQ(parse("[::1]:65535"), 0);
	CHECK(!strcmp(opt.addr, "::1"));
	CHECK_EQ(opt.port, 65535);
	CHECK_EQ(parse("0.0.0.0:5900,password=hunter2"), 0);
	CHECK(!strcmp(opt.addr, "0.0.0.0"));
	CHECK(!strcmp(opt.password, "hunter2"));
	CHECK_EQ(parse("[::]:5900,disable-ticketing"), 0);
	CHECK(!strcmp(opt.addr, "::"));
	CHECK(opt.disable_ticketing);
	CHECK_EQ(parse("spice.example.org:5900,password=x"), 0);
	CHECK(!strcmp(opt.addr, "spice.example.org"));
}

static void test_unix_socket(void)
{
	CHECK_EQ(parse("unix:/run/gvmm/spice.sock"), 0);
	CHECK(!strcmp(opt.unix_path, "/run/gvmm/spice.sock"));
	CHECK_EQ(opt.addr[0], 0);
	CHECK_EQ(opt.port, 0);
	/* A socket is guarded by its file's permissions: no password needed. */
	CHECK(!opt.disable_ticketing);
	CHECK_EQ(parse("unix:rel/path,password=s"), 0);
	CHECK(!strcmp(opt.unix_path, "rel/path"));
	CHECK(refused_mentioning("unix:", "needs a socket path"));
	char longpath[200] = "unix:/";
	memset(longpath + 6, 'a', 150);
	longpath[156] = 0;
	CHECK(refused_mentioning(longpath, "longer than the 107 bytes"));
	/* An abstract socket has no file, so no permissions to guard it. */
	CHECK(refused_mentioning("unix:@gvmm", "abstract socket, which any local user can reach"));
}

static void test_every_setting(void)
{
	CHECK_EQ(parse("10.0.0.1:5900,password=pw,tls-port=5901,x509-dir=/etc/pki/spice,"
		       "video-codec=gstreamer:h264;mjpeg,streaming-video=all,refresh-rate=30"), 0);
	CHECK(!strcmp(opt.addr, "10.0.0.1"));
	CHECK(!strcmp(opt.password, "pw"));
	CHECK_EQ(opt.tls_port, 5901);
	CHECK(!strcmp(opt.x509_dir, "/etc/pki/spice"));
	CHECK(!strcmp(opt.video_codecs, "gstreamer:h264;mjpeg"));
	CHECK_EQ(opt.streaming, SPICE_STREAMING_ALL);
	CHECK_EQ(opt.refresh_hz, 30);
	CHECK_EQ(parse(":5900,streaming-video=off"), 0);
	CHECK_EQ(opt.streaming, SPICE_STREAMING_OFF);
	CHECK_EQ(parse(":5900,streaming-video=filter"), 0);
	CHECK_EQ(opt.streaming, SPICE_STREAMING_FILTER);
	CHECK_EQ(parse(":5900,refresh-rate=1"), 0);
	CHECK_EQ(opt.refresh_hz, 1);
	CHECK_EQ(parse(":5900,refresh-rate=240"), 0);
	CHECK_EQ(opt.refresh_hz, 240);
}

static void test_missing_port(void)
{
	CHECK(refused_mentioning("127.0.0.1", "missing port in '127.0.0.1'"));
	CHECK(refused_mentioning("localhost,password=x", "ADDR alone is for TLS only"));
	CHECK(refused_mentioning("127.0.0.1:", "missing port"));
	CHECK(refused_mentioning(":", "missing port"));
	CHECK(refused_mentioning("[::1]", "missing port"));
	CHECK(refused_mentioning("[::1]5900", "missing port after '[::1]'"));
	CHECK(refused_mentioning("[::1]:", "missing port"));
	CHECK(refused_mentioning("", "empty"));
	CHECK(refused_mentioning(",password=x", "missing address"));
}

static void test_port_out_of_range(void)
{
	CHECK(refused_mentioning(":0", "port '0' is not a number from 1 to 65535"));
	CHECK(refused_mentioning(":65536", "port '65536' is not a number from 1 to 65535"));
	CHECK(refused_mentioning(":-1", "not a number"));
	CHECK(refused_mentioning(":59x", "not a number"));
	CHECK(refused_mentioning(":5900,tls-port=70000,x509-dir=/d", "tls-port '70000'"));
	CHECK(refused_mentioning(":5900,tls-port=5900,x509-dir=/d", "must differ"));
}

static void test_ipv6_needs_brackets(void)
{
	CHECK(refused_mentioning("::1:5900", "brackets"));
	CHECK(refused_mentioning("[::1:5900", "closing ']'"));
	CHECK(refused_mentioning("[]:5900", "empty address"));
}

static void test_unknown_or_malformed_key(void)
{
	CHECK(refused_mentioning(":5900,passwd=x", "unknown option 'passwd'"));
	CHECK(refused_mentioning(":5900,tls", "unknown option 'tls'"));
	CHECK(refused_mentioning(":5900,password", "password needs a value"));
	CHECK(refused_mentioning(":5900,password=", "password= needs a value"));
	CHECK(refused_mentioning(":5900,disable-ticketing=yes", "takes no value"));
	CHECK(refused_mentioning(":5900,password=a,password=b", "given twice"));
	CHECK(refused_mentioning(":5900,video-codec=", "video-codec= needs a value"));
	CHECK(refused_mentioning(":5900,password-file=", "password-file= needs a value"));
	CHECK(refused_mentioning(":5900,connect-file", "connect-file needs a value"));
	CHECK(refused_mentioning(":5900,password-file=a,password-file=b", "given twice"));
	CHECK(refused_mentioning(":5900,frob=1", "known are password-file, password, "
				 "disable-ticketing, connect-file, tls-port"));
}

static void test_password_and_disable_ticketing(void)
{
	CHECK(refused_mentioning(":5900,password=x,disable-ticketing", "contradict"));
	CHECK(refused_mentioning("0.0.0.0:5900,disable-ticketing,password=x", "contradict"));
	CHECK(refused_mentioning(":5900,password-file=/p,disable-ticketing",
				 "password-file= and disable-ticketing contradict"));
}

static void test_password_sources(void)
{
	char pw[80];

	CHECK_EQ(parse(":5900,password-file=/run/secrets/spice"), 0);
	CHECK(!strcmp(opt.password_file, "/run/secrets/spice"));
	CHECK_EQ(opt.password[0], 0);
	CHECK(refused_mentioning(":5900,password=x,password-file=/p", "two passwords: give one"));
	/* spice-server takes at most 60 bytes of ticket. */
	memset(pw, 0, sizeof(pw));
	memcpy(pw, ":5900,password=", 15);
	memset(pw + 15, 'p', 60);
	CHECK_EQ(parse(pw), 0);
	CHECK_EQ(strlen(opt.password), 60);
	pw[75] = 'p';
	CHECK(refused_mentioning(pw, "the password is longer than the 60 bytes SPICE allows"));
}

static void test_connect_file(void)
{
	CHECK_EQ(parse(":5900,connect-file=/home/me/vm.vv"), 0);
	CHECK(!strcmp(opt.connect_file, "/home/me/vm.vv"));
	CHECK_EQ(parse("0.0.0.0:5900,password-file=/p,connect-file=vm.vv"), 0);
	CHECK(!strcmp(opt.connect_file, "vm.vv"));
	CHECK(refused_mentioning("unix:/tmp/s,connect-file=/tmp/vm.vv",
				 "connect-file is for TCP: a unix socket needs no ticket"));
	CHECK(refused_mentioning(":5900,disable-ticketing,connect-file=/tmp/vm.vv",
				 "connect-file carries the password, and disable-ticketing has none"));
}

static void test_tls_needs_certificates(void)
{
	CHECK(refused_mentioning(":5900,tls-port=5901", "tls-port needs x509-dir=DIR"));
	CHECK(refused_mentioning(":5900,x509-dir=/d", "only used with tls-port"));
	CHECK(refused_mentioning("unix:/tmp/s,tls-port=5901,x509-dir=/d", "TCP address"));
	CHECK_EQ(parse(":5900,tls-port=5901,x509-dir=/d"), 0);
	/* With TLS every channel needs it, unless the user says otherwise. */
	CHECK(!opt.plaintext);
}

/* An address without a port and a tls-port: nothing listens in plain. */
static void test_tls_only(void)
{
	CHECK_EQ(parse("127.0.0.1,tls-port=5901,x509-dir=/d"), 0);
	CHECK(!strcmp(opt.addr, "127.0.0.1"));
	CHECK_EQ(opt.port, 0);
	CHECK_EQ(opt.tls_port, 5901);
	CHECK_EQ(parse("[::1],tls-port=5901,x509-dir=/d"), 0);
	CHECK(!strcmp(opt.addr, "::1"));
	CHECK_EQ(opt.port, 0);
	CHECK_EQ(parse("0.0.0.0,tls-port=5901,x509-dir=/d,password-file=/p"), 0);
	CHECK_EQ(opt.port, 0);
	CHECK(refused_mentioning("127.0.0.1,x509-dir=/d", "missing port"));
}

static void test_plaintext(void)
{
	CHECK_EQ(parse(":5900,tls-port=5901,x509-dir=/d,plaintext=on"), 0);
	CHECK(opt.plaintext);
	CHECK_EQ(parse(":5900,tls-port=5901,x509-dir=/d,plaintext=off"), 0);
	CHECK(!opt.plaintext);
	CHECK(refused_mentioning(":5900,plaintext=on", "plaintext= is only used with tls-port"));
	CHECK(refused_mentioning(":5900,plaintext=off", "plaintext= is only used with tls-port"));
	CHECK(refused_mentioning(":5900,tls-port=5901,x509-dir=/d,plaintext=yes",
				 "plaintext 'yes': use on or off"));
	CHECK(refused_mentioning("127.0.0.1,tls-port=5901,x509-dir=/d,plaintext=on",
				 "plaintext=on needs a plain port too"));
}

static void test_bad_refresh_rate(void)
{
	CHECK(refused_mentioning(":5900,refresh-rate=0", "refresh-rate '0'"));
	CHECK(refused_mentioning(":5900,refresh-rate=241", "from 1 to 240"));
	CHECK(refused_mentioning(":5900,refresh-rate=fast", "refresh-rate 'fast'"));
	CHECK(refused_mentioning(":5900,refresh-rate=60hz", "refresh-rate '60hz'"));
	CHECK(refused_mentioning(":5900,refresh-rate=", "refresh-rate ''"));
}

static void test_bad_streaming_video(void)
{
	CHECK(refused_mentioning(":5900,streaming-video=on",
				 "streaming-video 'on' is not off, all or filter"));
	CHECK(refused_mentioning(":5900,streaming-video=", "streaming-video ''"));
}

/* GL frames go to clients on this host only: gl=on needs unix:. Unset,
 * gvmm decides (SPICE_GL_AUTO). */
static void test_gl(void)
{
	CHECK_EQ(parse("unix:/run/gvmm/spice.sock,gl=on"), 0);
	CHECK_EQ(opt.gl, SPICE_GL_ON);
	CHECK(!strcmp(opt.unix_path, "/run/gvmm/spice.sock"));
	CHECK_EQ(parse("unix:/run/gvmm/spice.sock,gl=off"), 0);
	CHECK_EQ(opt.gl, SPICE_GL_OFF);
	CHECK_EQ(parse("unix:/run/gvmm/spice.sock"), 0);
	CHECK_EQ(opt.gl, SPICE_GL_AUTO);
	CHECK_EQ(parse(":5900"), 0);
	CHECK_EQ(opt.gl, SPICE_GL_AUTO);
	/* Off is no promise about where clients are: TCP may say it. */
	CHECK_EQ(parse("127.0.0.1:5900,gl=off"), 0);
	CHECK_EQ(opt.gl, SPICE_GL_OFF);
	CHECK(refused_mentioning("127.0.0.1:5900,gl=on", "gl=on needs a unix:PATH socket"));
	CHECK(refused_mentioning(":5900,gl=on", "unix"));
	CHECK(refused_mentioning("127.0.0.1,tls-port=5901,x509-dir=/d,gl=on", "unix"));
	CHECK(refused_mentioning("unix:/tmp/s,gl=maybe", "gl 'maybe': use on or off"));
	CHECK(refused_mentioning("unix:/tmp/s,gl=", "gl '': use on or off"));
	CHECK(refused_mentioning("unix:/tmp/s,gl", "gl needs a value"));
	CHECK(refused_mentioning("unix:/tmp/s,gl=on,gl=on", "gl is given twice"));
	CHECK(refused_mentioning("unix:/tmp/s,gl=on,gl=off", "given twice"));
}

static void test_loopback_addresses(void)
{
	CHECK(spice_addr_is_loopback("127.0.0.1"));
	CHECK(spice_addr_is_loopback("127.255.0.9"));
	CHECK(spice_addr_is_loopback("::1"));
	CHECK(spice_addr_is_loopback("::ffff:127.0.0.1"));
	CHECK(spice_addr_is_loopback("localhost"));
	CHECK(spice_addr_is_loopback("LOCALHOST"));
	CHECK(!spice_addr_is_loopback("128.0.0.1"));
	CHECK(!spice_addr_is_loopback("0.0.0.0"));
	CHECK(!spice_addr_is_loopback("::"));
	CHECK(!spice_addr_is_loopback("::ffff:10.0.0.1"));
	CHECK(!spice_addr_is_loopback("localhost.example.org"));
	CHECK(!spice_addr_is_loopback(""));
}

TEST_MAIN("spice_options",
	TEST_CASE(test_port_only_means_loopback),
	TEST_CASE(test_address_forms),
	TEST_CASE(test_unix_socket),
	TEST_CASE(test_every_setting),
	TEST_CASE(test_missing_port),
	TEST_CASE(test_port_out_of_range),
	TEST_CASE(test_ipv6_needs_brackets),
	TEST_CASE(test_unknown_or_malformed_key),
	TEST_CASE(test_password_and_disable_ticketing),
	TEST_CASE(test_password_sources),
	TEST_CASE(test_connect_file),
	TEST_CASE(test_tls_needs_certificates),
	TEST_CASE(test_tls_only),
	TEST_CASE(test_plaintext),
	TEST_CASE(test_bad_refresh_rate),
	TEST_CASE(test_bad_streaming_video),
	TEST_CASE(test_gl),
	TEST_CASE(test_loopback_addresses))

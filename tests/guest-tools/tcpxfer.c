/* Guest-side TCP transfer tool for the network tests (tests/guest/net.sh).
 * Busybox's nc cannot half-close a connection, so it cannot tell the peer
 * "that was all" and then wait for the peer to confirm it got everything;
 * this tool does exactly that, with numeric IPv4 addresses only (a static
 * binary has no working name lookup):
 *
 *   tcpxfer send ADDR PORT   connect, copy stdin to the socket, shut down
 *                            the sending side, wait until the peer closes
 *   tcpxfer recv ADDR PORT   connect, copy the socket to stdout until EOF
 *   tcpxfer serve PORT       listen on PORT (all addresses), accept one
 *                            connection and do what "send" does on it
 *
 * It hashes what it moves, so that the test needs no sha256sum (and no
 * FIFO or tee) in a pipeline that would each cost a copy of the data: on
 * success it says on stderr
 *   tcpxfer: mode=MODE bytes=N seconds=S sha256=HEX
 * and exits 0; on failure it says why and exits 1. Built static by
 * tools/mkguest. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256 * 1024)

static unsigned char buf[BUF_SIZE];

/* --- SHA-256 (FIPS 180-4) ------------------------------------------------- */

struct sha256 {
	uint32_t h[8];
	unsigned char block[64];
	size_t used;            /* bytes in block */
	unsigned long long len; /* bytes hashed */
};

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, h0, sizeof(h0));
	s->used = 0;
	s->len = 0;
}

static void sha256_block(struct sha256 *s, const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
	e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
			      sha256_k[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
	s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void sha256_update(struct sha256 *s, const unsigned char *p, size_t n)
{
	s->len += n;
	if (s->used > 0) {
		size_t take = 64 - s->used < n ? 64 - s->used : n;

		memcpy(s->block + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used < 64)
			return;
		sha256_block(s, s->block);
		s->used = 0;
	}
	for (; n >= 64; p += 64, n -= 64)
		sha256_block(s, p);
	memcpy(s->block, p, n);
	s->used = n;
}

/* Pads (0x80, zeros, the length in bits big-endian) and writes the hex. */
static void sha256_hex(struct sha256 *s, char hex[65])
{
	unsigned long long bits = s->len * 8;
	unsigned char pad[72] = { 0x80 };
	size_t padlen = (s->used < 56 ? 56 : 120) - s->used;

	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		sprintf(hex + 8 * i, "%08x", s->h[i]);
}

static struct sha256 hash;

/* --- Transfers ------------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "tcpxfer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: tcpxfer send|recv ADDR PORT\n"
			"       tcpxfer serve PORT\n");
	exit(2);
}

static unsigned short parse_port(const char *text)
{
	char *end;
	long port = strtol(text, &end, 10);

	if (*text == '\0' || *end != '\0' || port < 1 || port > 65535)
		usage();
	return (unsigned short)port;
}

/* Writes all of buf, retrying short writes. */
static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies from in to out until EOF on in, hashing; returns the byte count. */
static unsigned long long copy(int in, int out, const char *in_name, const char *out_name)
{
	unsigned long long total = 0;

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(in_name);
		if (n == 0)
			return total;
		sha256_update(&hash, buf, (size_t)n);
		if (write_all(out, buf, (size_t)n) < 0)
			die(out_name);
		total += (unsigned long long)n;
	}
}

/* Sends stdin, then waits for the peer to close: once read() sees EOF, the
 * peer's application has read everything (it closes only after EOF). */
static unsigned long long send_stdin(int sock)
{
	unsigned long long total = copy(0, sock, "stdin", "send");

	if (shutdown(sock, SHUT_WR) < 0)
		die("shutdown");
	for (;;) {
		ssize_t n = read(sock, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("waiting for the peer to close");
		if (n == 0)
			return total;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned long long total;
	const char *mode;
	char hex[65];
	double start;
	int sock;

	/* A peer that goes away makes write() fail with EPIPE, said plainly,
	 * instead of killing us silently. */
	signal(SIGPIPE, SIG_IGN);
	sha256_init(&hash);
	if (argc < 2)
		usage();
	mode = argv[1];
	sock = socket(AF_INET, SOCK_STREAM, 0);
	if (sock < 0)
		die("socket");

	if (strcmp(mode, "serve") == 0) {
		int one = 1, conn;

		if (argc != 3)
			usage();
		sa.sin_port = htons(parse_port(argv[2]));
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
		setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("bind");
		if (listen(sock, 1) < 0)
			die("listen");
		conn = accept(sock, NULL, NULL);
		if (conn < 0)
			die("accept");
		close(sock);
		start = now_s();
		total = send_stdin(conn);
		close(conn);
	} else if (strcmp(mode, "send") == 0 || strcmp(mode, "recv") == 0) {
		if (argc != 4)
			usage();
		if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1)
			usage();
		sa.sin_port = htons(parse_port(argv[3]));
		if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("connect");
		start = now_s();
		if (mode[0] == 's')
			total = send_stdin(sock);
		else
			total = copy(sock, 1, "recv", "stdout");
		close(sock);
	} else {
		usage();
	}
	sha256_hex(&hash, hex);
	fprintf(stderr, "tcpxfer: mode=%s bytes=%llu seconds=%.3f sha256=%s\n",
		mode, total, now_s() - start, hex);
	return 0;
}

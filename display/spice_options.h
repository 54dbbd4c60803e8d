/* The --spice option: where the embedded SPICE server listens and how.
 *
 *   ADDR:PORT | :PORT | unix:PATH
 *     [,password=SECRET | ,disable-ticketing]
 *     [,tls-port=PORT,x509-dir=DIR]          (TLS: DIR holds ca-cert.pem,
 *                                            server-cert.pem, server-key.pem)
 *     [,video-codec=LIST]                    (spice-server's list, e.g.
 *                                            mjpeg or gstreamer:h264;mjpeg)
 *     [,streaming-video=off|all|filter]      (default filter)
 *     [,refresh-rate=HZ]                     (most updates per second, 1-240,
 *                                            default 60)
 *
 * ":PORT" means 127.0.0.1. A non-loopback address with neither password
 * nor disable-ticketing is refused: it would let anyone on the network
 * drive the guest. Pure parser; nothing is opened. */
#ifndef GVMM_SPICE_OPTIONS_H
#define GVMM_SPICE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum spice_streaming { SPICE_STREAMING_FILTER, SPICE_STREAMING_OFF, SPICE_STREAMING_ALL };

struct spice_options {
	char addr[256];            /* numeric or host name; empty with unix */
	uint16_t port;             /* 0 with unix */
	char unix_path[108];       /* sun_path; empty unless unix: */
	char password[256];        /* empty: none */
	bool disable_ticketing;
	uint16_t tls_port;         /* 0: no TLS */
	char x509_dir[256];
	char video_codecs[256];    /* empty: spice-server's default */
	enum spice_streaming streaming;
	unsigned refresh_hz;
};

/* Returns 0, or -1 with one line in err (the caller adds "--spice 'ARG': "). */
int spice_options_parse(const char *arg, struct spice_options *out, char *err, size_t errlen);

/* Whether addr is a loopback address (127.0.0.0/8, ::1, localhost). */
bool spice_addr_is_loopback(const char *addr);

#endif

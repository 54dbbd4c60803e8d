/* The --spice option: where the embedded SPICE server listens and how.
 *
 *   ADDR:PORT | :PORT | unix:PATH | ADDR (TLS only: with tls-port, no
 *                                         plain port)
 *     [,password-file=PATH | ,password=SECRET | ,disable-ticketing]
 *     [,connect-file=PATH]                   (where the .vv file for
 *                                            remote-viewer goes)
 *     [,tls-port=PORT,x509-dir=DIR]          (TLS: DIR holds ca-cert.pem,
 *                                            server-cert.pem, server-key.pem)
 *     [,plaintext=on|off]                    (with TLS: whether channels may
 *                                            skip it; default off)
 *     [,video-codec=LIST]                    (spice-server's list, e.g.
 *                                            mjpeg or gstreamer:h264;mjpeg)
 *     [,streaming-video=off|all|filter]      (default filter)
 *     [,refresh-rate=HZ]                     (most updates per second, 1-240,
 *                                            default 60)
 *     [,gl=on|off]                           (GL frames to local clients as
 *                                            dmabufs, no copies: unix: only;
 *                                            default on where the GPU renders
 *                                            on a render node)
 *
 * ":PORT" means 127.0.0.1. The parser is pure: nothing is opened. Which
 * ticket clients must give (a password file, GVMM_SPICE_PASSWORD, or one
 * made up) is settled afterwards by spice_ticket_settle
 * (display/spice_ticket.h), which also refuses a listener outside
 * loopback without a password the user chose. */
#ifndef GVMM_SPICE_OPTIONS_H
#define GVMM_SPICE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum spice_streaming { SPICE_STREAMING_FILTER, SPICE_STREAMING_OFF, SPICE_STREAMING_ALL };
/* gl=: unset (auto), on, off. */
enum spice_gl { SPICE_GL_AUTO, SPICE_GL_ON, SPICE_GL_OFF };

/* spice-server refuses longer tickets (SPICE_MAX_PASSWORD_LENGTH). */
#define SPICE_PASSWORD_MAX 60

/* What clients must give to get in, once settled (spice_ticket_settle). */
enum spice_ticket {
	SPICE_TICKET_UNSETTLED,    /* straight from the parser */
	SPICE_TICKET_NONE,         /* a unix socket, or disable-ticketing */
	SPICE_TICKET_CHOSEN,       /* the user's password */
	SPICE_TICKET_GENERATED,    /* a random one gvmm made */
};

struct spice_options {
	char addr[256];            /* numeric or host name; empty with unix */
	uint16_t port;             /* 0 with unix, and with TLS only */
	char unix_path[108];       /* sun_path; empty unless unix: */
	char password[SPICE_PASSWORD_MAX + 1];  /* password=; once settled,
						 * the ticket. Empty: none */
	char password_file[1024];  /* password-file=; empty: none */
	bool disable_ticketing;
	enum spice_ticket ticket;
	char connect_file[1024];   /* connect-file=; empty: the default place */
	uint16_t tls_port;         /* 0: no TLS */
	char x509_dir[256];
	bool plaintext;            /* plaintext=on: channels need not use TLS */
	char video_codecs[256];    /* empty: spice-server's default */
	enum spice_streaming streaming;
	unsigned refresh_hz;
	enum spice_gl gl;
};

/* Returns 0, or -1 with one line in err (the caller adds "--spice 'ARG': ").
 * out->ticket is SPICE_TICKET_UNSETTLED. */
int spice_options_parse(const char *arg, struct spice_options *out, char *err, size_t errlen);

/* Whether addr is a loopback address (127.0.0.0/8, ::1, localhost). */
bool spice_addr_is_loopback(const char *addr);

#endif

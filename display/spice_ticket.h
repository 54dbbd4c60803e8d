/* The ticket (password) a SPICE client must give, settled once the
 * --spice option is parsed and before anything starts.
 *
 * Where it comes from, first match wins:
 *   password-file=PATH   the file's first line (without its newline); the
 *                        file must be readable by its owner only
 *   password=SECRET      the command line (which other local users can
 *                        read in /proc/PID/cmdline: the other two are for
 *                        that)
 *   disable-ticketing    none at all, knowingly
 *   GVMM_SPICE_PASSWORD  the environment, when --spice names none
 *   a unix socket        none: the socket's mode 0600 guards it
 *   otherwise (TCP)      a random one, 144 bits in 24 URL-safe
 *                        characters, which only the connection file
 *                        (display/spice_connect_file.h) tells
 *
 * A TCP listener outside loopback must not get a made-up ticket: the
 * viewer is on another machine, so the user chooses the password (or
 * says disable-ticketing). */
#ifndef GVMM_SPICE_TICKET_H
#define GVMM_SPICE_TICKET_H

#include <stddef.h>

#include "spice_options.h"

/* Characters in a made-up ticket. */
#define SPICE_TICKET_GENERATED_LEN 24

/* Settles o->ticket and o->password. env_password is
 * GVMM_SPICE_PASSWORD's value (NULL or empty: unset). Returns 0, or -1
 * with one line in err (the caller adds "--spice: "). */
int spice_ticket_settle(struct spice_options *o, const char *env_password, char *err,
			size_t errlen);

/* SPICE_TICKET_GENERATED_LEN random characters of [A-Za-z0-9_-] and a
 * NUL into out, from getrandom. 0, or -1 with errno. */
int spice_ticket_generate(char out[SPICE_TICKET_GENERATED_LEN + 1]);

#endif

/* gvmm's control socket (--api-socket PATH): a unix stream socket that
 * speaks newline-delimited JSON. Each request line {"command":"NAME"} gets
 * one response line, {"ok":true,"result":{...}} or {"ok":false,"error":"..."}.
 * Commands: status, pause, resume, powerdown (the ACPI power button), quit,
 * vcpus (where each vCPU is; API_VCPUS_PER_RESPONSE of them per response,
 * from the request's "from", with "next" in the result while more remain).
 *
 * The server runs on the VMM's event loop with non-blocking sockets and
 * never waits on a client: a request longer than JSON_REQUEST_MAX_LEN gets
 * an error and its connection closed, a client whose unread responses pile
 * up past API_CLIENT_OUT_MAX is dropped, and past API_SOCKET_MAX_CLIENTS a
 * new connection is told so and closed. It reaches the VM only through
 * struct api_ops, whose callbacks run on the loop thread.
 *
 * The socket file is created with mode 0600, never wider. A file left at
 * PATH by a gvmm that died is replaced; a socket something still listens
 * on is not. The file is removed at close. */
#ifndef GVMM_API_SOCKET_H
#define GVMM_API_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "event_loop.h"
#include "json_request.h"
#include "unix_listener.h"
#include "vcpu_snapshot.h"

#define API_SOCKET_MAX_CLIENTS  16
#define API_STATUS_MAX_DEVICES  32
#define API_STATUS_MAX_OUTPUTS  16
#define API_CLIENT_OUT_MAX      16384  /* unread response bytes before a drop */
#define API_VCPUS_PER_RESPONSE  16     /* keeps a vcpus response under 8 KiB */

enum api_vm_state { API_VM_RUNNING, API_VM_PAUSED };

struct api_device {
	char name[32];  /* "virtio-blk" */
	char pci[16];   /* "00:02.0" */
};

/* One output of the display: its size (0 x 0: off), the rectangles the
 * GPU handed it and the pictures it passed on to be shown. */
struct api_output {
	uint32_t width, height;
	uint64_t updates, sent;
	uint64_t dmabuf_draws, dmabuf_acks;   /* GL frames handed over as dmabufs */
};

/* One page of the vcpus command. */
struct api_vcpus {
	unsigned total;  /* vCPUs the VM has */
	unsigned nr;     /* read into vcpus[], from the requested index on */
	struct vcpu_snapshot vcpus[API_VCPUS_PER_RESPONSE];
};

struct api_status {
	enum api_vm_state state;
	unsigned vcpus;
	uint64_t memory_bytes;
	size_t nr_devices;  /* at most API_STATUS_MAX_DEVICES */
	struct api_device devices[API_STATUS_MAX_DEVICES];
	bool display;       /* false: gvmm shows no display; the rest is unset */
	bool viewers;       /* a client watches now */
	size_t nr_outputs;  /* at most API_STATUS_MAX_OUTPUTS */
	struct api_output outputs[API_STATUS_MAX_OUTPUTS];
};

/* The VM's side. Each action returns 0 once it is done or under way
 * (powerdown only presses the button; the guest shuts down on its own time)
 * or -errno, which the client sees as "pause failed: <strerror>". A NULL
 * action answers "not supported". status fills a zeroed *out; vcpus fills
 * a zeroed *out with vCPUs from, from + 1, ... and returns 0 or -errno.
 * None of them may call api_socket_close(). */
struct api_ops {
	int (*pause)(void *ctx);
	int (*resume)(void *ctx);
	int (*powerdown)(void *ctx);
	int (*quit)(void *ctx);
	void (*status)(void *ctx, struct api_status *out);
	int (*vcpus)(void *ctx, unsigned from, struct api_vcpus *out);
	void *ctx;
};

struct api_client;

struct api_socket {
	struct unix_listener listener;  /* the 0600 socket file; fd -1 when closed */
	int spare_fd;         /* /dev/null, given up to refuse a client at EMFILE */
	struct event_loop *loop;  /* NULL until started */
	struct api_ops ops;
	bool quitting;        /* quit was answered: no more requests */
	struct api_client *clients[API_SOCKET_MAX_CLIENTS];
};

/* Creates the socket file and listens; nothing is served before start.
 * Returns 0, or -1 with one line in err. */
int api_socket_open(struct api_socket *s, const char *path, char *err, size_t errlen);
/* Serves clients on loop; ops is copied. Returns 0 or -errno. */
int api_socket_start(struct api_socket *s, struct event_loop *loop,
		     const struct api_ops *ops);
/* Closes every client and the socket and unlinks its file; call it on the
 * loop thread or once the loop has stopped. Safe to call twice, and after
 * a failed open. */
void api_socket_close(struct api_socket *s);

#endif

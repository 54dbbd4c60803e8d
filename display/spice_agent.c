/* The built-in stand-in agent (display/spice_agent.h).
 *
 * spice-server talks to an agent through a character device ("vdagent"):
 * a byte stream of chunks (VDIChunkHeader: port, size), whose payloads,
 * per port, are messages (VDAgentMessage header, then data). Writes may
 * split chunks and messages anywhere, so the stream is parsed a byte at
 * a time. The one message that matters is the client's capability
 * request; the answer is queued for spice-server to read. spice-server
 * calls both directions on its main thread, the loop's. */
#include "spice_agent.h"

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* What the messages of one port look like so far. */
struct port_stream {
	uint8_t header[sizeof(VDAgentMessage)];
	uint32_t header_have;
	bool in_data;
	uint32_t data_left;
	uint32_t type;
	uint8_t request[4];        /* a capability message's first field */
	uint32_t request_have;
};

struct capabilities_reply {
	VDIChunkHeader chunk;
	VDAgentMessage message;
	VDAgentAnnounceCapabilities announce;
	uint32_t caps[VD_AGENT_CAPS_SIZE];
} __attribute__((packed));

struct spice_agent {
	SpiceCharDeviceInstance device;
	void (*wake)(void *opaque);
	void *wake_opaque;

	uint8_t chunk_header[sizeof(VDIChunkHeader)];
	uint32_t chunk_header_have;
	uint32_t chunk_left;        /* payload bytes of the current chunk still to come */
	uint32_t chunk_port;        /* VDP_*_PORT, 0 for a port that does not exist */
	struct port_stream ports[VDP_END_PORT];

	struct capabilities_reply reply;
	size_t reply_read;          /* bytes spice-server took; sizeof(reply): none pending */
};

static struct spice_agent *agent_of(SpiceCharDeviceInstance *sin)
{
	return (struct spice_agent *)sin;
}

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static void queue_capabilities(struct spice_agent *a)
{
	struct capabilities_reply *r = &a->reply;
	uint32_t caps[VD_AGENT_CAPS_SIZE] = { 0 };

	/* An answer half read is on its way; restarting it would cut it. */
	if (a->reply_read > 0 && a->reply_read < sizeof(*r))
		return;
	memset(r, 0, sizeof(*r));
	VD_AGENT_SET_CAPABILITY(caps, VD_AGENT_CAP_MONITORS_CONFIG);
	VD_AGENT_SET_CAPABILITY(caps, VD_AGENT_CAP_SPARSE_MONITORS_CONFIG);
	for (unsigned i = 0; i < VD_AGENT_CAPS_SIZE; i++)
		r->caps[i] = htole32(caps[i]);
	r->chunk.port = htole32(VDP_CLIENT_PORT);
	r->chunk.size = htole32(sizeof(*r) - sizeof(r->chunk));
	r->message.protocol = htole32(VD_AGENT_PROTOCOL);
	r->message.type = htole32(VD_AGENT_ANNOUNCE_CAPABILITIES);
	r->message.size = htole32(sizeof(r->announce) + sizeof(r->caps));
	r->announce.request = 0;
	a->reply_read = 0;
	a->wake(a->wake_opaque);
}

static void message_done(struct spice_agent *a, struct port_stream *p)
{
	/* A client asking for our capabilities (request != 0) gets them;
	 * its own announcements need no answer. */
	if (p->type == VD_AGENT_ANNOUNCE_CAPABILITIES && p->request_have == sizeof(p->request) &&
	    le32_at(p->request))
		queue_capabilities(a);
	/* spice-server says the client left: a message it was in the middle
	 * of sending will never end. */
	if (p == &a->ports[VDP_SERVER_PORT] && p->type == VD_AGENT_CLIENT_DISCONNECTED)
		memset(&a->ports[VDP_CLIENT_PORT], 0, sizeof(a->ports[VDP_CLIENT_PORT]));
	p->header_have = 0;
	p->in_data = false;
}

/* One byte of a message on port stream p. */
static void message_byte(struct spice_agent *a, struct port_stream *p, uint8_t byte)
{
	if (!p->in_data) {
		p->header[p->header_have++] = byte;
		if (p->header_have < sizeof(p->header))
			return;
		p->type = le32_at(p->header + offsetof(VDAgentMessage, type));
		p->data_left = le32_at(p->header + offsetof(VDAgentMessage, size));
		p->request_have = 0;
		p->in_data = true;
		if (!p->data_left)
			message_done(a, p);
		return;
	}
	if (p->request_have < sizeof(p->request))
		p->request[p->request_have++] = byte;
	if (!--p->data_left)
		message_done(a, p);
}

/* ---- SpiceCharDeviceInterface ---- */

static void agent_state(SpiceCharDeviceInstance *sin, int connected)
{
	(void)sin;
	(void)connected;
}

/* From the client (and spice-server): always takes all of it. */
static int agent_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
	struct spice_agent *a = agent_of(sin);

	for (int i = 0; i < len; i++) {
		if (!a->chunk_left) {
			a->chunk_header[a->chunk_header_have++] = buf[i];
			if (a->chunk_header_have < sizeof(a->chunk_header))
				continue;
			a->chunk_header_have = 0;
			a->chunk_port = le32_at(a->chunk_header + offsetof(VDIChunkHeader, port));
			if (a->chunk_port >= VDP_END_PORT)
				a->chunk_port = 0;
			a->chunk_left = le32_at(a->chunk_header + offsetof(VDIChunkHeader, size));
			continue;
		}
		a->chunk_left--;
		message_byte(a, &a->ports[a->chunk_port], buf[i]);
	}
	return len;
}

/* To the client: what is queued, else nothing. */
static int agent_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
	struct spice_agent *a = agent_of(sin);
	size_t left = sizeof(a->reply) - a->reply_read;
	size_t n = len < 0 ? 0 : (size_t)len < left ? (size_t)len : left;

	memcpy(buf, (const uint8_t *)&a->reply + a->reply_read, n);
	a->reply_read += n;
	return (int)n;
}

static void agent_event(SpiceCharDeviceInstance *sin, uint8_t event)
{
	(void)sin;
	(void)event;
}

static const SpiceCharDeviceInterface agent_interface = {
	.base = {
		.type = SPICE_INTERFACE_CHAR_DEVICE,
		.description = "gvmm monitors-config agent",
		.major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
		.minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR,
	},
	.state = agent_state,
	.write = agent_write,
	.read = agent_read,
	.event = agent_event,
};

/* ---- life ---- */

struct spice_agent *spice_agent_new(void (*wake)(void *opaque), void *wake_opaque)
{
	struct spice_agent *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->device.base.sif = &agent_interface.base;
	a->device.subtype = "vdagent";
	a->wake = wake;
	a->wake_opaque = wake_opaque;
	a->reply_read = sizeof(a->reply);
	return a;
}

int spice_agent_attach(struct spice_agent *a, SpiceServer *server)
{
	/* The client's pointer goes to the tablet, and nothing but window
	 * sizes goes to this agent. */
	spice_server_set_agent_mouse(server, 0);
	spice_server_set_agent_copypaste(server, 0);
	spice_server_set_agent_file_xfer(server, 0);
	return spice_server_add_interface(server, &a->device.base) ? -1 : 0;
}

void spice_agent_service(struct spice_agent *a)
{
	if (a->reply_read < sizeof(a->reply))
		spice_server_char_device_wakeup(&a->device);
}

void spice_agent_free(struct spice_agent *a)
{
	free(a);
}

/* Walks a virgl command stream's record headers. Each record is a header
 * dword (command in bits 0-7, object type in 8-15, payload length in
 * dwords in 16-31) and its payload. */
#include "virgl_stream.h"

#include <endian.h>

#define CCMD_PIPE_RESOURCE_CREATE 48
#define PIPE_RESOURCE_CREATE_LEN  11

enum pipe_resource_field {
	FIELD_TARGET, FIELD_FORMAT, FIELD_BIND, FIELD_WIDTH, FIELD_HEIGHT, FIELD_DEPTH,
	FIELD_ARRAY_SIZE, FIELD_LAST_LEVEL, FIELD_NR_SAMPLES, FIELD_FLAGS, FIELD_BLOB_ID,
};

static struct virgl_stream_pipe_resource read_pipe_resource(const uint32_t *payload)
{
	uint32_t f[PIPE_RESOURCE_CREATE_LEN];

	for (unsigned i = 0; i < PIPE_RESOURCE_CREATE_LEN; i++)
		f[i] = le32toh(payload[i]);
	return (struct virgl_stream_pipe_resource){
		.args = {
			.target = f[FIELD_TARGET], .format = f[FIELD_FORMAT], .bind = f[FIELD_BIND],
			.width = f[FIELD_WIDTH], .height = f[FIELD_HEIGHT], .depth = f[FIELD_DEPTH],
			.array_size = f[FIELD_ARRAY_SIZE], .last_level = f[FIELD_LAST_LEVEL],
			.nr_samples = f[FIELD_NR_SAMPLES], .flags = f[FIELD_FLAGS],
		},
		.blob_id = f[FIELD_BLOB_ID],
	};
}

bool virgl_stream_each_pipe_resource(const uint32_t *stream, size_t ndw,
				     virgl_stream_pipe_resource_fn fn, void *opaque)
{
	size_t at = 0;

	while (at < ndw) {
		uint32_t header = le32toh(stream[at]);
		size_t len = header >> 16;

		if (len > ndw - at - 1)
			break;
		/* Longer ones too: counting one the renderer refuses costs a
		 * charge until its context goes; missing one it ran would
		 * leak it. */
		if ((header & 0xff) == CCMD_PIPE_RESOURCE_CREATE && len >= PIPE_RESOURCE_CREATE_LEN) {
			struct virgl_stream_pipe_resource p = read_pipe_resource(stream + at + 1);

			if (!fn(opaque, &p))
				return false;
		}
		at += 1 + len;
	}
	return true;
}

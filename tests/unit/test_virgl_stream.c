/* Finding the pipe-resource records of a virgl command stream the way
 * the renderer walks it. */
#include "check.h"

#include <endian.h>

#include "../../devices/gpu/virgl_stream.h"

#define HEADER(cmd, len) htole32((uint32_t)(cmd) | ((uint32_t)(len) << 16))
#define PIPE_CREATE      48
#define CLEAR            7

struct seen {
	uint32_t blob_ids[8];
	unsigned nr, stop_after;
};

static bool note(void *opaque, const struct virgl_stream_pipe_resource *p)
{
	struct seen *s = opaque;

	if (s->nr < 8)
		s->blob_ids[s->nr] = p->blob_id;
	s->nr++;
	return s->nr != s->stop_after;
}

/* Records of other commands are stepped over by their length, a pipe
 * resource's fields are read in order, and a longer record counts too
 * (the renderer might run it). */
static void test_records_found(void)
{
	uint32_t stream[] = {
		HEADER(CLEAR, 2), htole32(PIPE_CREATE), HEADER(PIPE_CREATE, 11),
		HEADER(PIPE_CREATE, 11), 0, htole32(64), htole32(16), htole32(4096), 1, 1, 1, 0, 0,
		htole32(6), htole32(77),
		HEADER(0, 0),
		HEADER(PIPE_CREATE, 12), 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, htole32(78), 0,
		HEADER(PIPE_CREATE, 10), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	struct seen s = { 0 };

	CHECK(virgl_stream_each_pipe_resource(stream, sizeof(stream) / 4, note, &s));
	CHECK_EQ(s.nr, 2);
	CHECK_EQ(s.blob_ids[0], 77);
	CHECK_EQ(s.blob_ids[1], 78);
}

static bool keep_first(void *opaque, const struct virgl_stream_pipe_resource *p)
{
	*(struct virgl_stream_pipe_resource *)opaque = *p;
	return false;
}

static void test_fields(void)
{
	uint32_t stream[] = {
		HEADER(PIPE_CREATE, 11), htole32(2), htole32(1), htole32(8), htole32(640),
		htole32(480), htole32(1), htole32(3), htole32(4), htole32(2), htole32(9),
		htole32(5),
	};
	struct virgl_stream_pipe_resource p;

	CHECK(!virgl_stream_each_pipe_resource(stream, sizeof(stream) / 4, keep_first, &p));
	CHECK_EQ(p.args.target, 2);
	CHECK_EQ(p.args.format, 1);
	CHECK_EQ(p.args.bind, 8);
	CHECK_EQ(p.args.width, 640);
	CHECK_EQ(p.args.height, 480);
	CHECK_EQ(p.args.depth, 1);
	CHECK_EQ(p.args.array_size, 3);
	CHECK_EQ(p.args.last_level, 4);
	CHECK_EQ(p.args.nr_samples, 2);
	CHECK_EQ(p.args.flags, 9);
	CHECK_EQ(p.blob_id, 5);
	CHECK_EQ(p.args.handle, 0);
}

/* A record running past the end ends the walk, wherever its length
 * points; so does the caller's refusal. */
static void test_truncated_and_stopped(void)
{
	uint32_t stream[] = {
		HEADER(PIPE_CREATE, 11), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, htole32(1),
		HEADER(PIPE_CREATE, 11), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, htole32(2),
		HEADER(CLEAR, 0xffff), HEADER(PIPE_CREATE, 11),
	};
	struct seen s = { 0 };

	CHECK(virgl_stream_each_pipe_resource(stream, sizeof(stream) / 4, note, &s));
	CHECK_EQ(s.nr, 2);
	s = (struct seen){ .stop_after = 1 };
	CHECK(!virgl_stream_each_pipe_resource(stream, sizeof(stream) / 4, note, &s));
	CHECK_EQ(s.nr, 1);
	/* The last record's payload is one dword short. */
	s = (struct seen){ 0 };
	CHECK(virgl_stream_each_pipe_resource(stream, 23, note, &s));
	CHECK_EQ(s.nr, 1);
	s = (struct seen){ 0 };
	CHECK(virgl_stream_each_pipe_resource(stream, 0, note, &s));
	CHECK_EQ(s.nr, 0);
}

TEST_MAIN("virgl_stream",
	TEST_CASE(test_records_found),
	TEST_CASE(test_fields),
	TEST_CASE(test_truncated_and_stopped))

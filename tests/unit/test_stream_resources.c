/* The list of pipe resources streams made and no blob claimed. */
#include "check.h"

#include "../../devices/gpu/stream_resources.h"

struct dropped {
	uint32_t blob_ids[8];
	unsigned nr;
};

static void note_dropped(void *opaque, const struct stream_resource *r)
{
	struct dropped *d = opaque;

	d->blob_ids[d->nr++] = r->blob_id;
}

static void add(struct stream_resources *s, uint32_t ctx_id, uint32_t blob_id)
{
	CHECK(stream_resources_reserve(s, 1));
	stream_resources_add(s, (struct stream_resource){ ctx_id, blob_id, 4096 });
}

/* Found first-made first, as the renderer finds them; a context's go in
 * one pass, in the order they were made, and the others stay in theirs. */
static void test_find_and_drop(void)
{
	struct stream_resources s = { 0 };
	struct dropped d = { 0 };

	add(&s, 1, 7);
	add(&s, 2, 7);
	add(&s, 1, 8);
	add(&s, 1, 7);
	add(&s, 2, 9);
	CHECK_EQ(stream_resources_find(&s, 1, 7), 0);
	CHECK_EQ(stream_resources_find(&s, 2, 7), 1);
	CHECK_EQ(stream_resources_find(&s, 3, 7), -1);
	CHECK_EQ(stream_resources_remove(&s, 0).blob_id, 7);
	CHECK_EQ(stream_resources_find(&s, 1, 7), 2);
	stream_resources_drop_context(&s, 1, note_dropped, &d);
	CHECK_EQ(d.nr, 2);
	CHECK_EQ(d.blob_ids[0], 8);
	CHECK_EQ(d.blob_ids[1], 7);
	CHECK_EQ(s.nr, 2);
	CHECK_EQ(s.made[0].blob_id, 7);
	CHECK_EQ(s.made[1].blob_id, 9);
	stream_resources_free(&s);
	CHECK_EQ(s.nr, 0);
}

TEST_MAIN("stream_resources",
	TEST_CASE(test_find_and_drop))

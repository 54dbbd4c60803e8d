#include "stream_resources.h"

#include <stdlib.h>
#include <string.h>

bool stream_resources_reserve(struct stream_resources *s, size_t more)
{
	struct stream_resource *grown;
	size_t room;

	if (more <= s->room - s->nr)
		return true;
	room = s->nr + more;
	if (room < 2 * s->room)
		room = 2 * s->room;
	grown = reallocarray(s->made, room, sizeof(*grown));
	if (!grown)
		return false;
	s->made = grown;
	s->room = room;
	return true;
}

void stream_resources_add(struct stream_resources *s, struct stream_resource r)
{
	s->made[s->nr++] = r;
}

long stream_resources_find(const struct stream_resources *s, uint32_t ctx_id, uint32_t blob_id)
{
	for (size_t i = 0; i < s->nr; i++)
		if (s->made[i].ctx_id == ctx_id && s->made[i].blob_id == blob_id)
			return (long)i;
	return -1;
}

void stream_resources_drop_context(struct stream_resources *s, uint32_t ctx_id,
				   void (*fn)(void *opaque, const struct stream_resource *r),
				   void *opaque)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->nr; i++) {
		if (s->made[i].ctx_id == ctx_id)
			fn(opaque, &s->made[i]);
		else
			s->made[kept++] = s->made[i];
	}
	s->nr = kept;
}

struct stream_resource stream_resources_remove(struct stream_resources *s, size_t index)
{
	struct stream_resource r = s->made[index];

	memmove(&s->made[index], &s->made[index + 1], (s->nr - index - 1) * sizeof(*s->made));
	s->nr--;
	return r;
}

void stream_resources_free(struct stream_resources *s)
{
	free(s->made);
	*s = (struct stream_resources){ 0 };
}

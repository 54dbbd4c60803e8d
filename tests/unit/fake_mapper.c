/* The test mapper: see fake_mapper.h. Checks what KVM would refuse. */
#include "fake_mapper.h"

#include <errno.h>
#include <string.h>

#include "check.h"

void fake_mapper_init(struct fake_mapper *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

void fake_mapper_destroy(struct fake_mapper *m)
{
	pthread_mutex_destroy(&m->lock);
}

static int fake_map(void *ctx, uint64_t gpa, void *host, uint64_t size)
{
	struct fake_mapper *m = ctx;
	int handle = -ENOSPC;

	CHECK(gpa % 4096 == 0 && size % 4096 == 0 && size && (uintptr_t)host % 4096 == 0);
	pthread_mutex_lock(&m->lock);
	if (m->fail_with) {
		handle = m->fail_with;
		goto out;
	}
	for (unsigned i = 0; i < FAKE_MAPPER_SLOTS; i++)
		if (m->slots[i].used && gpa < m->slots[i].gpa + m->slots[i].size &&
		    m->slots[i].gpa < gpa + size) {
			handle = -EEXIST;
			goto out;
		}
	for (unsigned i = 0; i < FAKE_MAPPER_SLOTS; i++)
		if (!m->slots[i].used) {
			m->slots[i].used = true;
			m->slots[i].gpa = gpa;
			m->slots[i].size = size;
			m->slots[i].host = host;
			m->maps++;
			handle = (int)i;
			break;
		}
out:
	pthread_mutex_unlock(&m->lock);
	return handle;
}

static void fake_unmap(void *ctx, int handle)
{
	struct fake_mapper *m = ctx;

	CHECK(handle >= 0 && handle < FAKE_MAPPER_SLOTS);
	if (handle < 0 || handle >= FAKE_MAPPER_SLOTS)
		return;
	pthread_mutex_lock(&m->lock);
	CHECK(m->slots[handle].used);
	m->slots[handle].used = false;
	m->unmaps++;
	pthread_mutex_unlock(&m->lock);
}

struct host_page_mapper fake_mapper_ops(struct fake_mapper *m)
{
	return (struct host_page_mapper){ .map = fake_map, .unmap = fake_unmap, .ctx = m };
}

unsigned fake_mapper_count(struct fake_mapper *m)
{
	unsigned n = 0;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < FAKE_MAPPER_SLOTS; i++)
		n += m->slots[i].used;
	pthread_mutex_unlock(&m->lock);
	return n;
}

bool fake_mapper_has(struct fake_mapper *m, uint64_t gpa, void *host, uint64_t size)
{
	bool found = false;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < FAKE_MAPPER_SLOTS; i++)
		if (m->slots[i].used && m->slots[i].gpa == gpa && m->slots[i].size == size &&
		    m->slots[i].host == host)
			found = true;
	pthread_mutex_unlock(&m->lock);
	return found;
}

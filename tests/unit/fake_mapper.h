/* A host_page_mapper for unit tests: records which host pages are shown
 * at which guest address, as KVM memory slots would hold them, and can be
 * told to refuse. */
#ifndef GVMM_TESTS_FAKE_MAPPER_H
#define GVMM_TESTS_FAKE_MAPPER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../vmm/host_page_mapper.h"

#define FAKE_MAPPER_SLOTS 16

struct fake_mapper {
	pthread_mutex_t lock;
	struct { bool used; uint64_t gpa, size; void *host; } slots[FAKE_MAPPER_SLOTS];
	unsigned maps, unmaps;       /* calls that succeeded */
	int fail_with;               /* map's answer when not 0 */
};

void fake_mapper_init(struct fake_mapper *m);
void fake_mapper_destroy(struct fake_mapper *m);
struct host_page_mapper fake_mapper_ops(struct fake_mapper *m);
/* Mappings in the guest now. */
unsigned fake_mapper_count(struct fake_mapper *m);
/* Whether exactly [gpa, gpa + size) shows host. */
bool fake_mapper_has(struct fake_mapper *m, uint64_t gpa, void *host, uint64_t size);

#endif

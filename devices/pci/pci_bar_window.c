#include "pci_bar_window.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "../../vmm/log.h"

static bool is_power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

int pci_bar_window_init(struct pci_bar_window *w, uint64_t size,
			const struct host_page_mapper *mapper)
{
	memset(w, 0, sizeof(*w));
	if (!is_power_of_two(size) || size < PCI_BAR_WINDOW_PAGE || !mapper || !mapper->map ||
	    !mapper->unmap)
		return -EINVAL;
	w->size = size;
	w->mapper = *mapper;
	pthread_mutex_init(&w->lock, NULL);
	return 0;
}

/* ---- one mapping in and out of the guest (w->lock held) ---- */

static int enter_guest(struct pci_bar_window *w, struct pci_bar_window_mapping *m)
{
	int handle = w->mapper.map(w->mapper.ctx, w->base + m->offset, m->host, m->size);

	m->handle = handle < 0 ? -1 : handle;
	return handle < 0 ? handle : 0;
}

static void leave_guest(struct pci_bar_window *w, struct pci_bar_window_mapping *m)
{
	if (m->handle >= 0)
		w->mapper.unmap(w->mapper.ctx, m->handle);
	m->handle = -1;
}

void pci_bar_window_destroy(struct pci_bar_window *w)
{
	if (!w->size)
		return;
	pthread_mutex_lock(&w->lock);
	for (unsigned i = 0; i < w->nr_mappings; i++)
		leave_guest(w, &w->mappings[i]);
	w->nr_mappings = 0;
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_destroy(&w->lock);
	w->size = 0;
}

/* ---- the device's side ---- */

static bool range_valid(const struct pci_bar_window *w, uint64_t offset, const void *host,
			uint64_t size)
{
	/* offset <= w->size first, so the subtraction cannot wrap. */
	return size && offset % PCI_BAR_WINDOW_PAGE == 0 && size % PCI_BAR_WINDOW_PAGE == 0 &&
	       (uintptr_t)host % PCI_BAR_WINDOW_PAGE == 0 && offset <= w->size &&
	       size <= w->size - offset;
}

static bool overlaps_any(const struct pci_bar_window *w, uint64_t offset, uint64_t size)
{
	for (unsigned i = 0; i < w->nr_mappings; i++) {
		const struct pci_bar_window_mapping *m = &w->mappings[i];

		if (offset < m->offset + m->size && m->offset < offset + size)
			return true;
	}
	return false;
}

int pci_bar_window_map(struct pci_bar_window *w, uint64_t offset, void *host, uint64_t size)
{
	struct pci_bar_window_mapping *m;
	int ret = 0;

	if (!range_valid(w, offset, host, size))
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	if (overlaps_any(w, offset, size)) {
		ret = -EBUSY;
		goto out;
	}
	if (w->nr_mappings == PCI_BAR_WINDOW_MAX_MAPPINGS) {
		ret = -ENOSPC;
		goto out;
	}
	m = &w->mappings[w->nr_mappings];
	*m = (struct pci_bar_window_mapping){
		.offset = offset, .size = size, .host = host, .handle = -1,
	};
	if (w->placed)
		ret = enter_guest(w, m);
	if (ret == 0)
		w->nr_mappings++;
out:
	pthread_mutex_unlock(&w->lock);
	return ret;
}

bool pci_bar_window_unmap(struct pci_bar_window *w, uint64_t offset, uint64_t size)
{
	bool found = false;

	pthread_mutex_lock(&w->lock);
	for (unsigned i = 0; i < w->nr_mappings; i++) {
		struct pci_bar_window_mapping *m = &w->mappings[i];

		if (m->offset != offset || m->size != size)
			continue;
		leave_guest(w, m);
		*m = w->mappings[--w->nr_mappings];
		found = true;
		break;
	}
	pthread_mutex_unlock(&w->lock);
	return found;
}

/* ---- the guest's side: the BAR moves ---- */

void pci_bar_window_place(struct pci_bar_window *w, bool decoding, uint64_t base)
{
	pthread_mutex_lock(&w->lock);
	for (unsigned i = 0; i < w->nr_mappings; i++)
		leave_guest(w, &w->mappings[i]);
	w->placed = decoding;
	w->base = decoding ? base : 0;
	for (unsigned i = 0; decoding && i < w->nr_mappings; i++) {
		struct pci_bar_window_mapping *m = &w->mappings[i];
		int ret = enter_guest(w, m);

		/* The guest then reads the BAR's MMIO handler there: its own
		 * doing (a BAR laid where KVM refuses) or slots running out. */
		if (ret < 0 && !w->failure_logged) {
			w->failure_logged = true;
			log_warn("pci: host pages at BAR offset 0x%" PRIx64 " cannot follow the BAR "
				 "to 0x%" PRIx64 ": %s (logged once)", m->offset, base,
				 strerror(-ret));
		}
	}
	pthread_mutex_unlock(&w->lock);
}

/* The expansion ROM of a passed-through function (vfio_rom.h). */
#include "vfio_rom.h"

#include <inttypes.h>
#include <string.h>

#include "../../vmm/log.h"

/* pci.h's smallest memory BAR: a ROM BAR owns its pages like any BAR. */
#define ROM_BAR_MIN_SIZE   4096ull

bool vfio_rom_init(struct vfio_rom *rom, const char *name, uint64_t region_size, bool readable,
		   bool hidden, const struct vfio_rom_io *io)
{
	const char *why = NULL;

	memset(rom, 0, sizeof(*rom));
	rom->name = name;
	rom->io = *io;
	if (!region_size)
		return false;
	if (hidden) {
		log_debug("vfio %s: its expansion ROM is hidden (rom=off)", name);
		return false;
	}
	if (!readable)
		why = "VFIO does not let it be read";
	else if (region_size & (region_size - 1))
		why = "its size is not a power of two";
	else if (region_size > VFIO_ROM_MAX_SIZE)
		why = "it is larger than 16 MiB";
	if (why) {
		log_warn("vfio %s: its expansion ROM (0x%" PRIx64 " bytes) is not offered to the "
			 "guest: %s", name, region_size, why);
		return false;
	}
	rom->region_size = region_size;
	rom->bar_size = region_size < ROM_BAR_MIN_SIZE ? ROM_BAR_MIN_SIZE : region_size;
	return true;
}

void vfio_rom_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vfio_rom *rom = opaque;

	if (is_write) {
		/* Only the first: a guest that keeps writing must not flood the log. */
		if (!__atomic_exchange_n(&rom->write_logged, true, __ATOMIC_RELAXED))
			log_warn("vfio %s: the guest wrote to its expansion ROM at +0x%" PRIx64
				 "; a ROM is read-only, the write is dropped (logged once)",
				 rom->name, offset);
		return;
	}
	if (offset >= rom->region_size || len > rom->region_size - offset ||
	    rom->io.read(rom->io.ctx, offset, data, len) < 0)
		memset(data, 0xff, len);
}

/* virtio-gpu (virtio 1.2, section 5.7), 2D: resources in host memory
 * filled from guest-RAM backing by TRANSFER_TO_HOST_2D, scanouts that show
 * them, flushes that reach the display (display/display.h), a cursor
 * queue, EDID for each output, and display-change events when a viewer
 * asks for another size. With virgl, the same device offers 3D
 * (VIRTIO_GPU_F_VIRGL and VIRTIO_GPU_F_CONTEXT_INIT) through
 * virglrenderer on host GL (virtio_gpu_virgl.h), and blob resources
 * (VIRTIO_GPU_F_RESOURCE_BLOB) when blob-memory is not 0 and the VM can
 * map host pages (virtio_pci_env's mapper): the host-visible region is
 * BAR 2 (shmid VIRTIO_GPU_SHM_ID_HOST_VISIBLE), blobs are mapped into it
 * as KVM memory slots that follow the BAR (pci_bar_window.h).
 *
 * Every command is hostile input: lengths, formats, rectangles, resource
 * ids and backing addresses are checked; a bad command gets the spec's
 * error response, never a crash. The host memory the guest makes gvmm
 * hold for it, resources and what the display holds for its outputs, is
 * capped.
 *
 * Threads: both queues are served on the device's own GPU thread; the
 * display may call request_mode from its own thread. */
#ifndef GVMM_VIRTIO_GPU_H
#define GVMM_VIRTIO_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../display/display.h"
#include "../pci/pci.h"
#include "../virtio/virtio_pci.h"

#define VIRTIO_GPU_MAX_OUTPUTS       16
#define VIRTIO_GPU_DEFAULT_WIDTH     1280
#define VIRTIO_GPU_DEFAULT_HEIGHT    800
/* At least; more with many or large outputs (virtio_gpu_option.c). */
#define VIRTIO_GPU_DEFAULT_HOSTMEM   (256ull << 20)

/* --gpu [2d|virgl][,width=W,height=H][,outputs=N][,max-memory=SIZE]
 *       [,rendernode=PATH][,blob-memory=SIZE]   (the last two virgl only)
 *
 * max-memory caps what the guest's GPU use makes gvmm hold: resources,
 * and what the display holds for each output a scanout shows (with SPICE,
 * 4 x width x height x 4 bytes and 64 KiB: the display's copy, the
 * surface spice-server draws into, and two frames of updates on their
 * way to it). */
#define VIRTIO_GPU_RENDER_NODE_MAX  128
/* blob-memory: the size of the host-visible shared memory region (the
 * BAR blobs are mapped into), a power of two; 0: no blobs. */
#define VIRTIO_GPU_DEFAULT_BLOB_MEMORY  (256ull << 20)
#define VIRTIO_GPU_MIN_BLOB_MEMORY      (1ull << 20)
#define VIRTIO_GPU_MAX_BLOB_MEMORY      (8ull << 30)

struct virtio_gpu_config {
	bool virgl;                  /* 3D through virglrenderer */
	/* The DRM render node 3D runs on; empty: the first that works, else
	 * EGL surfaceless (software). */
	char render_node[VIRTIO_GPU_RENDER_NODE_MAX];
	unsigned nr_outputs;         /* 1..VIRTIO_GPU_MAX_OUTPUTS */
	uint32_t width, height;      /* the preferred mode of every output */
	uint64_t max_host_memory;    /* host bytes the guest may make us hold */
	uint64_t blob_memory;        /* virgl: the host-visible region's size */
};

/* Returns 0, or -1 with one line in err (the caller adds "--gpu 'ARG': ").
 * An empty arg gives the defaults. */
int virtio_gpu_option_parse(const char *arg, struct virtio_gpu_config *out,
			    char *err, size_t errlen);

struct virtio_gpu;

/* display may be NULL (a headless GPU: everything works, nothing is
 * shown). Returns 0, or -1 with one line in err; with virgl, a host whose
 * GL or virglrenderer does not start says so in a line of its own
 * ("--gpu virgl: cannot start 3D: ..."). One virgl GPU per process. */
int virtio_gpu_create(struct virtio_gpu **out, const struct virtio_gpu_config *cfg,
		      struct display *display, const struct virtio_pci_env *env,
		      char *err, size_t errlen);
/* For pci_bus_add_device(). */
struct pci_device *virtio_gpu_pci_device(struct virtio_gpu *gpu);
/* Tearing down is two steps, because the PCI bus keeps pointers into the
 * function until pci_bus_destroy(): stop detaches from the display and
 * resets the device, so nothing touches it any more; destroy, after
 * pci_bus_destroy(), stops the GPU thread and frees (stopping first if
 * that was not done). */
void virtio_gpu_stop(struct virtio_gpu *gpu);
void virtio_gpu_destroy(struct virtio_gpu *gpu);

#endif

/* The DRM kernel interface the guest tools use (bochstest, fbpaint):
 * their own definitions of the stable UAPI, so that the static tools need
 * neither libdrm nor the kernel's headers. */
#ifndef GVMM_GUEST_TOOLS_DRM_UAPI_H
#define GVMM_GUEST_TOOLS_DRM_UAPI_H

#include <stdint.h>
#include <sys/ioctl.h>

struct drm_modeinfo {
	uint32_t clock;
	uint16_t hdisplay, hsync_start, hsync_end, htotal, hskew;
	uint16_t vdisplay, vsync_start, vsync_end, vtotal, vscan;
	uint32_t vrefresh, flags, type;
	char name[32];
};
struct drm_card_res {
	uint64_t fb_id_ptr, crtc_id_ptr, connector_id_ptr, encoder_id_ptr;
	uint32_t count_fbs, count_crtcs, count_connectors, count_encoders;
	uint32_t min_width, max_width, min_height, max_height;
};
struct drm_get_connector {
	uint64_t encoders_ptr, modes_ptr, props_ptr, prop_values_ptr;
	uint32_t count_modes, count_props, count_encoders;
	uint32_t encoder_id, connector_id, connector_type, connector_type_id;
	uint32_t connection, mm_width, mm_height, subpixel, pad;
};
struct drm_get_encoder {
	uint32_t encoder_id, encoder_type, crtc_id, possible_crtcs, possible_clones;
};
struct drm_crtc {
	uint64_t set_connectors_ptr;
	uint32_t count_connectors, crtc_id, fb_id, x, y, gamma_size, mode_valid;
	struct drm_modeinfo mode;
};
struct drm_fb_cmd {
	uint32_t fb_id, width, height, pitch, bpp, depth, handle;
};
struct drm_create_dumb {
	uint32_t height, width, bpp, flags, handle, pitch;
	uint64_t size;
};
struct drm_map_dumb {
	uint32_t handle, pad;
	uint64_t offset;
};
_Static_assert(sizeof(struct drm_modeinfo) == 68, "drm_mode_modeinfo");
_Static_assert(sizeof(struct drm_card_res) == 64, "drm_mode_card_res");
_Static_assert(sizeof(struct drm_get_connector) == 80, "drm_mode_get_connector");
_Static_assert(sizeof(struct drm_crtc) == 104, "drm_mode_crtc");
_Static_assert(sizeof(struct drm_create_dumb) == 32, "drm_mode_create_dumb");

#define DRM_IOCTL_SET_MASTER_    _IO('d', 0x1e)
#define DRM_IOCTL_GETRESOURCES_  _IOWR('d', 0xA0, struct drm_card_res)
#define DRM_IOCTL_SETCRTC_       _IOWR('d', 0xA2, struct drm_crtc)
#define DRM_IOCTL_GETENCODER_    _IOWR('d', 0xA6, struct drm_get_encoder)
#define DRM_IOCTL_GETCONNECTOR_  _IOWR('d', 0xA7, struct drm_get_connector)
#define DRM_IOCTL_ADDFB_         _IOWR('d', 0xAE, struct drm_fb_cmd)
#define DRM_IOCTL_CREATE_DUMB_   _IOWR('d', 0xB2, struct drm_create_dumb)
#define DRM_IOCTL_MAP_DUMB_      _IOWR('d', 0xB3, struct drm_map_dumb)

#endif

/* A mediated device's display plane, judged before any of it is read:
 * what is off, which formats are shown, and every way a device's answer
 * can overstate what its buffer holds. */
#include "check.h"

#include <drm_fourcc.h>

#include "../../devices/vfio/vfio_gfx_plane.h"

#define W       1024u
#define H       768u
#define STRIDE  (W * 4)
#define PAGE    4096u

static char err[256];

/* What mbochs answers for a 1024x768 XRGB8888 mode. */
static struct vfio_device_gfx_plane_info plane(void)
{
	return (struct vfio_device_gfx_plane_info){
		.argsz = sizeof(struct vfio_device_gfx_plane_info),
		.flags = VFIO_GFX_PLANE_TYPE_DMABUF,
		.drm_plane_type = VFIO_GFX_DRM_PLANE_PRIMARY,
		.drm_format = DRM_FORMAT_XRGB8888,
		.width = W, .height = H, .stride = STRIDE, .size = STRIDE * H,
		.dmabuf_id = 1,
	};
}

static int check_plane(const struct vfio_device_gfx_plane_info *p, uint64_t buffer,
		       struct vfio_gfx_layout *out)
{
	err[0] = '\0';
	return vfio_gfx_plane_check(p, buffer, out, err, sizeof(err));
}

/* The check failed and said why, with word in the reason. */
static bool refused(const struct vfio_device_gfx_plane_info *p, uint64_t buffer,
		    const char *word)
{
	struct vfio_gfx_layout out;

	if (check_plane(p, buffer, &out) == 0)
		return false;
	if (!strstr(err, word)) {
		fprintf(stderr, "  reason '%s' lacks '%s'\n", err, word);
		return false;
	}
	return true;
}

static void test_good_plane(void)
{
	struct vfio_device_gfx_plane_info p = plane();
	struct vfio_gfx_layout out;

	CHECK(!vfio_gfx_plane_is_off(&p));
	CHECK_EQ(check_plane(&p, STRIDE * H, &out), 0);
	CHECK_EQ(out.width, W);
	CHECK_EQ(out.height, H);
	CHECK_EQ(out.stride, STRIDE);
	CHECK_EQ(out.format, DISPLAY_BGRX);
	CHECK_EQ(out.bytes, (uint64_t)STRIDE * H);

	/* A wider stride (a virtual width beyond the mode): the last row
	 * needs only its pixels, not the whole stride. */
	p.stride = STRIDE + 256;
	p.size = p.stride * H;
	CHECK_EQ(check_plane(&p, p.stride * (H - 1) + W * 4, &out), 0);
	CHECK_EQ(out.bytes, (uint64_t)p.stride * (H - 1) + W * 4);
}

static void test_off(void)
{
	struct vfio_device_gfx_plane_info p = { 0 };

	/* mbochs' answer while the guest has no mode set: all zeros. */
	CHECK(vfio_gfx_plane_is_off(&p));
	p = plane();
	p.drm_format = 0;
	CHECK(vfio_gfx_plane_is_off(&p));
	p = plane();
	p.size = 0;
	CHECK(vfio_gfx_plane_is_off(&p));
}

static void test_formats(void)
{
	static const struct { uint32_t drm; enum display_format display; } known[] = {
		{ DRM_FORMAT_XRGB8888, DISPLAY_BGRX }, { DRM_FORMAT_ARGB8888, DISPLAY_BGRA },
		{ DRM_FORMAT_XBGR8888, DISPLAY_RGBX }, { DRM_FORMAT_ABGR8888, DISPLAY_RGBA },
		{ DRM_FORMAT_RGBX8888, DISPLAY_XBGR }, { DRM_FORMAT_RGBA8888, DISPLAY_ABGR },
		{ DRM_FORMAT_BGRX8888, DISPLAY_XRGB }, { DRM_FORMAT_BGRA8888, DISPLAY_ARGB },
	};
	enum display_format f;
	char name[16];

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		CHECK(vfio_gfx_format(known[i].drm, &f));
		CHECK_EQ(f, known[i].display);
	}
	CHECK(!vfio_gfx_format(DRM_FORMAT_RGB565, &f));
	CHECK(!vfio_gfx_format(DRM_FORMAT_XRGB2101010, &f));
	CHECK(!vfio_gfx_format(DRM_FORMAT_NV12, &f));

	vfio_gfx_fourcc_name(DRM_FORMAT_XRGB8888, name);
	CHECK(!strcmp(name, "XR24"));
	vfio_gfx_fourcc_name(0x01020304, name);
	CHECK(!strcmp(name, "0x01020304"));
}

static void test_unknown_format(void)
{
	struct vfio_device_gfx_plane_info p = plane();

	p.drm_format = DRM_FORMAT_RGB565;
	CHECK(refused(&p, STRIDE * H, "RG16"));
	p.drm_format = 0x7f7f7f01;   /* not even printable */
	CHECK(refused(&p, STRIDE * H, "0x7f7f7f01"));
}

static void test_tiled(void)
{
	struct vfio_device_gfx_plane_info p = plane();

	p.drm_format_mod = I915_FORMAT_MOD_X_TILED;
	CHECK(refused(&p, STRIDE * H, "tiled"));
}

static void test_zero_sizes(void)
{
	struct vfio_device_gfx_plane_info p = plane();

	p.width = 0;
	CHECK(refused(&p, STRIDE * H, "empty"));
	p = plane();
	p.height = 0;
	CHECK(refused(&p, STRIDE * H, "empty"));
	p = plane();
	p.stride = 0;
	CHECK(refused(&p, STRIDE * H, "stride"));
	/* A buffer of nothing holds no row. */
	p = plane();
	CHECK(refused(&p, 0, "buffer"));
}

static void test_stride_too_small(void)
{
	struct vfio_device_gfx_plane_info p = plane();

	p.stride = W * 4 - 4;
	CHECK(refused(&p, STRIDE * H, "stride"));
	/* Not a multiple of the pixel size, one byte short of a row. */
	p.stride = W * 4 - 1;
	CHECK(refused(&p, STRIDE * H, "stride"));
}

static void test_beyond_the_buffer(void)
{
	struct vfio_device_gfx_plane_info p = plane();

	/* One byte short of the last pixel. */
	CHECK(refused(&p, STRIDE * H - 1, "buffer"));
	/* The device's own size says less than its geometry needs. */
	p.size = STRIDE * H - PAGE;
	CHECK(refused(&p, STRIDE * H, "device says"));
	/* A large stride with a mapping of the mode's size: the rows run
	 * far past its end. */
	p = plane();
	p.stride = 1u << 20;
	p.size = UINT32_MAX;
	CHECK(refused(&p, STRIDE * H, "buffer"));
}

static void test_huge_sizes(void)
{
	struct vfio_device_gfx_plane_info p = plane();

	p.width = DISPLAY_MAX_WIDTH + 1;
	p.stride = UINT32_MAX;
	p.size = UINT32_MAX;
	CHECK(refused(&p, UINT64_MAX, "larger"));
	p = plane();
	p.height = UINT32_MAX;
	CHECK(refused(&p, UINT64_MAX, "larger"));
	p = plane();
	p.width = UINT32_MAX;
	p.stride = UINT32_MAX;
	CHECK(refused(&p, UINT64_MAX, "larger"));
	/* The largest the display takes, with the largest stride: the byte
	 * count is past 32 bits and must not wrap into something small. */
	p = plane();
	p.width = DISPLAY_MAX_WIDTH;
	p.height = DISPLAY_MAX_HEIGHT;
	p.stride = UINT32_MAX;
	p.size = UINT32_MAX;
	CHECK(refused(&p, UINT32_MAX, "device says"));
	CHECK(refused(&p, UINT64_MAX, "device says"));
}

static void test_same_plane(void)
{
	struct vfio_device_gfx_plane_info a = plane(), b = plane();

	CHECK(vfio_gfx_plane_same(&a, &b));
	b.dmabuf_id = 2;
	CHECK(!vfio_gfx_plane_same(&a, &b));
	b = plane();
	b.stride += 64;
	CHECK(!vfio_gfx_plane_same(&a, &b));
	b = plane();
	b.drm_format = DRM_FORMAT_ARGB8888;
	CHECK(!vfio_gfx_plane_same(&a, &b));
	b = plane();
	b.x_pos = 1;
	CHECK(!vfio_gfx_plane_same(&a, &b));
	/* What the device leaves alone (hot spots of a primary plane) does
	 * not make a new plane. */
	b = plane();
	b.x_hot = 5;
	CHECK(vfio_gfx_plane_same(&a, &b));
}

TEST_MAIN("vfio_gfx_plane",
	  TEST_CASE(test_good_plane),
	  TEST_CASE(test_off),
	  TEST_CASE(test_formats),
	  TEST_CASE(test_unknown_format),
	  TEST_CASE(test_tiled),
	  TEST_CASE(test_zero_sizes),
	  TEST_CASE(test_stride_too_small),
	  TEST_CASE(test_beyond_the_buffer),
	  TEST_CASE(test_huge_sizes),
	  TEST_CASE(test_same_plane))

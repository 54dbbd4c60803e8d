/* The --gpu option (syntax in virtio_gpu.h): a pure parser, nothing is
 * created here. */
#include "virtio_gpu.h"
#include "../../vmm/error_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../vmm/cli_parse.h"

/* Below this a desktop is unusable, and the EDID's timings degenerate. */
#define GPU_MIN_SIDE        64
/* Less would not hold one default-sized framebuffer twice (a page flip). */
#define GPU_MIN_HOSTMEM     (16ull << 20)
/* Longer than any meaningful option ("rendernode=" and a path). */
#define GPU_OPTION_MAX      (16 + VIRTIO_GPU_RENDER_NODE_MAX)
/* The default cap holds this many frames of the preferred mode per
 * output, if that is more than VIRTIO_GPU_DEFAULT_HOSTMEM: a shown output
 * costs four in the display (virtio_gpu.h), double buffering two more. */
#define GPU_DEFAULT_FRAMES  8

static int parse_side(const char *key, const char *value, unsigned max, uint32_t *side,
		      char *err, size_t errlen)
{
	unsigned v;

	if (parse_count(value, GPU_MIN_SIDE, max, &v) < 0)
		return write_error(err, errlen, "%s '%s': expected a pixel count %d..%u",
			    key, value, GPU_MIN_SIDE, max);
	*side = v;
	return 0;
}

static int parse_render_node(const char *value, struct virtio_gpu_config *cfg, char *err,
			     size_t errlen)
{
	if (!cfg->virgl)
		return write_error(err, errlen, "rendernode is for virgl (3D) only");
	if (!*value)
		return write_error(err, errlen, "rendernode '': expected a path like /dev/dri/renderD128");
	if (strlen(value) >= sizeof(cfg->render_node))
		return write_error(err, errlen, "rendernode '%.20s...' is too long", value);
	snprintf(cfg->render_node, sizeof(cfg->render_node), "%s", value);
	return 0;
}

/* A power of two, so the BAR holding it needs no rounding; 0 turns
 * blobs off. */
static int parse_blob_memory(const char *value, struct virtio_gpu_config *cfg, char *err,
			     size_t errlen)
{
	uint64_t size;

	if (!cfg->virgl)
		return write_error(err, errlen, "blob-memory is for virgl (3D) only");
	if (!strcmp(value, "0")) {
		cfg->blob_memory = 0;
		return 0;
	}
	if (parse_size(value, &size) < 0 || size & (size - 1) ||
	    size < VIRTIO_GPU_MIN_BLOB_MEMORY || size > VIRTIO_GPU_MAX_BLOB_MEMORY)
		return write_error(err, errlen, "blob-memory '%s': expected 0 or a power of two "
				   "from 1M to 8G, like 256M", value);
	cfg->blob_memory = size;
	return 0;
}

static int parse_one(const char *option, struct virtio_gpu_config *cfg, bool *max_given,
		     char *err, size_t errlen)
{
	const char *eq = strchr(option, '=');
	const char *value = eq ? eq + 1 : "";
	size_t key_len = eq ? (size_t)(eq - option) : strlen(option);
	char key[GPU_OPTION_MAX];

	if (!eq || key_len >= sizeof(key))
		return write_error(err, errlen,
			    "'%s' is not an option: expected width=W, height=H, outputs=N, "
			    "max-memory=SIZE, rendernode=PATH or blob-memory=SIZE",
			    option);
	memcpy(key, option, key_len);
	key[key_len] = '\0';
	if (!strcmp(key, "width"))
		return parse_side(key, value, DISPLAY_MAX_WIDTH, &cfg->width, err, errlen);
	if (!strcmp(key, "height"))
		return parse_side(key, value, DISPLAY_MAX_HEIGHT, &cfg->height, err, errlen);
	if (!strcmp(key, "outputs")) {
		if (parse_count(value, 1, VIRTIO_GPU_MAX_OUTPUTS, &cfg->nr_outputs) < 0)
			return write_error(err, errlen, "outputs '%s': expected a count 1..%d",
				    value, VIRTIO_GPU_MAX_OUTPUTS);
		return 0;
	}
	if (!strcmp(key, "max-memory")) {
		if (parse_size(value, &cfg->max_host_memory) < 0)
			return write_error(err, errlen, "max-memory '%s': expected a size like 256M or 1G",
				    value);
		if (cfg->max_host_memory < GPU_MIN_HOSTMEM)
			return write_error(err, errlen, "max-memory '%s' is below the minimum of 16M", value);
		*max_given = true;
		return 0;
	}
	if (!strcmp(key, "rendernode"))
		return parse_render_node(value, cfg, err, errlen);
	if (!strcmp(key, "blob-memory"))
		return parse_blob_memory(value, cfg, err, errlen);
	return write_error(err, errlen,
		    "unknown option '%s': expected width, height, outputs, max-memory, rendernode "
		    "or blob-memory", key);
}

int virtio_gpu_option_parse(const char *arg, struct virtio_gpu_config *out,
			    char *err, size_t errlen)
{
	struct virtio_gpu_config cfg = {
		.nr_outputs = 1,
		.width = VIRTIO_GPU_DEFAULT_WIDTH,
		.height = VIRTIO_GPU_DEFAULT_HEIGHT,
		.max_host_memory = VIRTIO_GPU_DEFAULT_HOSTMEM,
	};
	const char *p = arg ? arg : "";
	bool first = true, max_given = false;
	uint64_t frames;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char option[GPU_OPTION_MAX];

		if (!len)
			return write_error(err, errlen, "an empty option between commas");
		if (len >= sizeof(option))
			return write_error(err, errlen, "option '%.*s...' is too long", 20, p);
		memcpy(option, p, len);
		option[len] = '\0';
		/* The mode word may only lead. */
		if (first && !strcmp(option, "2d")) {
			cfg.virgl = false;
		} else if (first && !strcmp(option, "virgl")) {
			cfg.virgl = true;
			cfg.blob_memory = VIRTIO_GPU_DEFAULT_BLOB_MEMORY;
		} else if (!strcmp(option, "2d") || !strcmp(option, "virgl")) {
			return write_error(err, errlen, "'%s' must come first", option);
		} else if (parse_one(option, &cfg, &max_given, err, errlen) < 0) {
			return -1;
		}
		first = false;
		p += len;
		if (*p == ',') {
			p++;
			if (!*p)
				return write_error(err, errlen, "a trailing comma");
		}
	}
	frames = (uint64_t)cfg.nr_outputs * GPU_DEFAULT_FRAMES * cfg.width * cfg.height * 4;
	if (!max_given && frames > cfg.max_host_memory)
		cfg.max_host_memory = frames;
	*out = cfg;
	return 0;
}

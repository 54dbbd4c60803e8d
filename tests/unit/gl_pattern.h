/* A GL texture whose every pixel can be told apart, for tests that copy
 * textures around (display/gl_readback.c, display/gl_dmabuf.c) and check
 * each byte landed where it should. */
#ifndef GVMM_TEST_GL_PATTERN_H
#define GVMM_TEST_GL_PATTERN_H

#include <stdint.h>

/* Byte `channel` (memory order B, G, R, A) of the pixel at x on row gl_row,
 * rows in GL's order (row 0 is GL's bottom row). No two pixels of a
 * texture up to 64 x 64 share all four. */
uint8_t gl_pattern_byte(uint32_t x, uint32_t gl_row, unsigned channel);

/* A width x height RGBA8 GL_TEXTURE_2D holding the pattern, uploaded and
 * finished, in the current context; at most 64 x 64. */
uint32_t gl_pattern_texture(uint32_t width, uint32_t height);

#endif

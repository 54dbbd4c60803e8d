/* The test pattern texture (gl_pattern.h). */
#include "gl_pattern.h"

#include <epoxy/gl.h>

#define GL_PATTERN_MAX_SIDE 64

uint8_t gl_pattern_byte(uint32_t x, uint32_t gl_row, unsigned channel)
{
	return (uint8_t)(x * 7 + gl_row * 31 + channel * 64 + 1);
}

uint32_t gl_pattern_texture(uint32_t width, uint32_t height)
{
	static uint8_t bytes[GL_PATTERN_MAX_SIDE * GL_PATTERN_MAX_SIDE * 4];
	GLuint tex;

	if (width > GL_PATTERN_MAX_SIDE || height > GL_PATTERN_MAX_SIDE)
		return 0;
	for (uint32_t row = 0; row < height; row++)
		for (uint32_t x = 0; x < width; x++)
			for (unsigned c = 0; c < 4; c++)
				bytes[(row * width + x) * 4 + c] = gl_pattern_byte(x, row, c);
	glGenTextures(1, &tex);
	glBindTexture(GL_TEXTURE_2D, tex);
	glTexStorage2D(GL_TEXTURE_2D, 1, GL_RGBA8, (GLsizei)width, (GLsizei)height);
	glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
	glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, (GLsizei)width, (GLsizei)height, GL_BGRA,
			GL_UNSIGNED_BYTE, bytes);
	glBindTexture(GL_TEXTURE_2D, 0);
	glFinish();
	return tex;
}

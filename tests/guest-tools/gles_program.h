/* Compiling and linking a GLES2 program, for the GL guest tools (glprobe,
 * glbusy): each is one file built by tools/mkguest --gl, so this is a
 * header of static functions rather than a library. A shader or program
 * that fails gives 0 and GL's own log in err. */
#ifndef GVMM_GUEST_TOOLS_GLES_PROGRAM_H
#define GVMM_GUEST_TOOLS_GLES_PROGRAM_H

#include <GLES2/gl2.h>
#include <stddef.h>
#include <stdio.h>

static GLuint gles_shader(GLenum type, const char *source, char *err, size_t errlen)
{
	GLuint s = glCreateShader(type);
	GLint ok = 0;

	glShaderSource(s, 1, &source, NULL);
	glCompileShader(s);
	glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
	if (!ok) {
		char log[1024] = "";

		glGetShaderInfoLog(s, sizeof(log), NULL, log);
		snprintf(err, errlen, "the %s shader does not compile: %s",
			 type == GL_VERTEX_SHADER ? "vertex" : "fragment", log);
		return 0;
	}
	return s;
}

/* The program of the two shaders, with attribute 0 bound to attribute. */
static GLuint gles_program(const char *vs, const char *fs, const char *attribute, char *err,
			   size_t errlen)
{
	GLuint p, v, f;
	GLint ok = 0;

	v = gles_shader(GL_VERTEX_SHADER, vs, err, errlen);
	f = v ? gles_shader(GL_FRAGMENT_SHADER, fs, err, errlen) : 0;
	if (!f)
		return 0;
	p = glCreateProgram();
	glAttachShader(p, v);
	glAttachShader(p, f);
	glBindAttribLocation(p, 0, attribute);
	glLinkProgram(p);
	glGetProgramiv(p, GL_LINK_STATUS, &ok);
	if (!ok) {
		char log[1024] = "";

		glGetProgramInfoLog(p, sizeof(log), NULL, log);
		snprintf(err, errlen, "the program does not link: %s", log);
		return 0;
	}
	return p;
}

#endif

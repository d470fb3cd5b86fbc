// Drawing for charts and heatmaps through cairo: antialiased shapes and real text.
// The only code in Lumen that calls cairo.
#ifndef LUMEN_CANVAS_H
#define LUMEN_CANVAS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lm_canvas lm_canvas;

/// A white RGB canvas of width × height pixels; NULL when cairo cannot make one.
lm_canvas *lm_canvas_create(int width, int height);
void lm_canvas_destroy(lm_canvas *canvas);

/// The colour for what is drawn next, components in 0–1.
void lm_canvas_color(lm_canvas *canvas, double red, double green, double blue, double alpha);
void lm_canvas_fill_rect(lm_canvas *canvas, double x, double y, double width, double height);
void lm_canvas_stroke_rect(lm_canvas *canvas, double x, double y, double width, double height, double line_width);
/// A polyline through `count` points given as x0, y0, x1, y1, …; dashed when `dash` > 0.
void lm_canvas_polyline(lm_canvas *canvas, const double *points, int count, double line_width, double dash);
/// Text anchored at (x, y): align 0 left, 1 centre, 2 right of x; y is the baseline.
/// `vertical` rotates it a quarter turn anticlockwise about the anchor.
void lm_canvas_text(lm_canvas *canvas, double x, double y, double size, const char *utf8, int align, int bold,
                    int vertical);
/// Width of `utf8` at `size`, to lay out labels.
double lm_canvas_text_width(lm_canvas *canvas, double size, const char *utf8, int bold);
/// Paints 8-bit RGB pixels scaled into the rectangle (x, y, width, height), nearest-neighbour.
void lm_canvas_image(lm_canvas *canvas, const unsigned char *rgb, int image_width, int image_height,
                     double x, double y, double width, double height);
/// Encodes the canvas as PNG into a malloc'd buffer freed with lm_buffer_release. 0 on success.
int lm_canvas_png(lm_canvas *canvas, unsigned char **out, size_t *size);

#ifdef __cplusplus
}
#endif

#endif

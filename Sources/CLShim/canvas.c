// Drawing through cairo. See include/canvas.h.
#include "canvas.h"

#include <cairo/cairo.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct lm_canvas {
    cairo_surface_t *surface;
    cairo_t *cr;
};

lm_canvas *lm_canvas_create(int width, int height) {
    lm_canvas *canvas = calloc(1, sizeof(lm_canvas));
    if (!canvas) return NULL;
    canvas->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    if (cairo_surface_status(canvas->surface) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(canvas->surface);
        free(canvas);
        return NULL;
    }
    canvas->cr = cairo_create(canvas->surface);
    cairo_set_source_rgb(canvas->cr, 1, 1, 1);
    cairo_paint(canvas->cr);
    return canvas;
}

void lm_canvas_destroy(lm_canvas *canvas) {
    if (!canvas) return;
    cairo_destroy(canvas->cr);
    cairo_surface_destroy(canvas->surface);
    free(canvas);
}

void lm_canvas_color(lm_canvas *canvas, double red, double green, double blue, double alpha) {
    cairo_set_source_rgba(canvas->cr, red, green, blue, alpha);
}

void lm_canvas_fill_rect(lm_canvas *canvas, double x, double y, double width, double height) {
    cairo_rectangle(canvas->cr, x, y, width, height);
    cairo_fill(canvas->cr);
}

void lm_canvas_stroke_rect(lm_canvas *canvas, double x, double y, double width, double height, double line_width) {
    cairo_set_line_width(canvas->cr, line_width);
    cairo_rectangle(canvas->cr, x, y, width, height);
    cairo_stroke(canvas->cr);
}

void lm_canvas_polyline(lm_canvas *canvas, const double *points, int count, double line_width, double dash) {
    if (count < 2) return;
    cairo_set_line_width(canvas->cr, line_width);
    cairo_set_line_join(canvas->cr, CAIRO_LINE_JOIN_ROUND);
    if (dash > 0) cairo_set_dash(canvas->cr, &dash, 1, 0);
    cairo_move_to(canvas->cr, points[0], points[1]);
    for (int i = 1; i < count; i++) cairo_line_to(canvas->cr, points[2 * i], points[2 * i + 1]);
    cairo_stroke(canvas->cr);
    cairo_set_dash(canvas->cr, NULL, 0, 0);
}

static void select_font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double lm_canvas_text_width(lm_canvas *canvas, double size, const char *utf8, int bold) {
    cairo_text_extents_t extents;
    select_font(canvas->cr, size, bold);
    cairo_text_extents(canvas->cr, utf8, &extents);
    return extents.x_advance;
}

void lm_canvas_text(lm_canvas *canvas, double x, double y, double size, const char *utf8, int align, int bold,
                    int vertical) {
    cairo_t *cr = canvas->cr;
    double width = lm_canvas_text_width(canvas, size, utf8, bold);
    double shift = align == 1 ? -width / 2 : align == 2 ? -width : 0;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    if (vertical) cairo_rotate(cr, -1.5707963267948966);
    cairo_move_to(cr, shift, 0);
    cairo_show_text(cr, utf8);
    cairo_restore(cr);
}

void lm_canvas_image(lm_canvas *canvas, const unsigned char *rgb, int image_width, int image_height,
                     double x, double y, double width, double height) {
    cairo_surface_t *image = cairo_image_surface_create(CAIRO_FORMAT_RGB24, image_width, image_height);
    if (cairo_surface_status(image) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(image);
        return;
    }
    cairo_surface_flush(image);
    unsigned char *data = cairo_image_surface_get_data(image);
    int stride = cairo_image_surface_get_stride(image);
    for (int row = 0; row < image_height; row++) {
        uint32_t *line = (uint32_t *)(data + (size_t)row * stride);
        for (int col = 0; col < image_width; col++) {
            const unsigned char *p = rgb + ((size_t)row * image_width + col) * 3;
            line[col] = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        }
    }
    cairo_surface_mark_dirty(image);
    cairo_save(canvas->cr);
    cairo_translate(canvas->cr, x, y);
    cairo_scale(canvas->cr, width / image_width, height / image_height);
    cairo_set_source_surface(canvas->cr, image, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(canvas->cr), CAIRO_FILTER_NEAREST);
    cairo_paint(canvas->cr);
    cairo_restore(canvas->cr);
    cairo_surface_destroy(image);
}

struct png_sink {
    unsigned char *data;
    size_t size, capacity;
};

static cairo_status_t append(void *closure, const unsigned char *bytes, unsigned int length) {
    struct png_sink *sink = closure;
    if (sink->size + length > sink->capacity) {
        size_t capacity = sink->capacity ? sink->capacity * 2 : 65536;
        while (capacity < sink->size + length) capacity *= 2;
        unsigned char *grown = realloc(sink->data, capacity);
        if (!grown) return CAIRO_STATUS_NO_MEMORY;
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->size, bytes, length);
    sink->size += length;
    return CAIRO_STATUS_SUCCESS;
}

int lm_canvas_png(lm_canvas *canvas, unsigned char **out, size_t *size) {
    struct png_sink sink = {0};
    cairo_surface_flush(canvas->surface);
    cairo_status_t status = cairo_surface_write_to_png_stream(canvas->surface, append, &sink);
    if (status != CAIRO_STATUS_SUCCESS) {
        free(sink.data);
        *out = NULL;
        *size = 0;
        return (int)status;
    }
    *out = sink.data;
    *size = sink.size;
    return 0;
}

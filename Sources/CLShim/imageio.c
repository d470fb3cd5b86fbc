// Image decoding. See include/imageio.h.
#include "imageio.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

static void set_message(char *message, size_t capacity, const char *text) {
    if (!message || capacity == 0) return;
    snprintf(message, capacity, "%s", text);
}

// Colour to gray as Pillow's convert("L") does it (ITU-R 601-2 luma on the encoded
// values, 16-bit fixed point), so grayscale inputs match what Keras users get.
static void rgb_to_gray(const unsigned char *rgb, unsigned char *gray, size_t pixels) {
    for (size_t i = 0; i < pixels; i++) {
        const unsigned char *p = rgb + 3 * i;
        gray[i] = (unsigned char)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
    }
}

// MARK: - JPEG

struct jpeg_failure {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char text[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr info) {
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    (*info->err->format_message)(info, failure->text);
    longjmp(failure->jump, 1);
}

// Corrupt-data warnings (a truncated file) become errors, so no half image is returned.
static void jpeg_warn(j_common_ptr info, int level) {
    if (level < 0) jpeg_fail(info);
}

// Pillow's reading of a 4-channel JPEG: the values are Adobe's inverted CMYK (Pillow's
// "CMYK;I"), and convert("RGB") takes R = (255 − K) − C·(255 − K)/255 with its rounded
// division by 255, likewise G from M and B from Y. In place is fine: out trails in.
static void cmyk_to_rgb(unsigned char *out, const unsigned char *in, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const int c = 255 - in[4 * i], m = 255 - in[4 * i + 1], y = 255 - in[4 * i + 2], k = 255 - in[4 * i + 3];
        const int nk = 255 - k, ink[3] = {c, m, y};
        for (int j = 0; j < 3; j++) {
            const int t = ink[j] * nk + 128;
            const int v = nk - (((t >> 8) + t) >> 8);
            out[3 * i + j] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

static int decode_jpeg(const unsigned char *data, size_t size, int channels, uint64_t max_pixels,
                       lm_image *out, char *message, size_t capacity) {
    struct jpeg_decompress_struct info;
    struct jpeg_failure failure;
    unsigned char *volatile pixels = NULL;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    failure.manager.emit_message = jpeg_warn;
    if (setjmp(failure.jump)) {
        set_message(message, capacity, failure.text);
        jpeg_destroy_decompress(&info);
        free(pixels);
        return LM_IMAGE_CORRUPT;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    if ((uint64_t)info.image_width * info.image_height > max_pixels) {
        char text[160];
        snprintf(text, sizeof text, "%ux%u pixels exceeds the limit of %llu", info.image_width, info.image_height,
                 (unsigned long long)max_pixels);
        set_message(message, capacity, text);
        jpeg_destroy_decompress(&info);
        return LM_IMAGE_TOO_LARGE;
    }
    // A colour JPEG asked for in gray is decoded to RGB and converted as Pillow does.
    // CMYK and YCCK (print exports) come out of libjpeg as CMYK and become RGB as Pillow
    // makes them.
    const int four = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    const int to_gray = channels == 1 && info.num_components != 1;
    info.out_color_space = four ? JCS_CMYK : channels == 1 && !to_gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * info.output_components;
    pixels = malloc(stride * info.output_height);
    if (!pixels) {
        jpeg_destroy_decompress(&info);
        set_message(message, capacity, "out of memory");
        return LM_IMAGE_NO_MEMORY;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    out->width = (int)info.output_width;
    out->height = (int)info.output_height;
    out->channels = info.output_components;
    if (four) {
        cmyk_to_rgb(pixels, pixels, (size_t)info.output_width * info.output_height);
        out->channels = 3;
    }
    if (to_gray) {
        rgb_to_gray(pixels, pixels, (size_t)info.output_width * info.output_height);
        out->channels = 1;
    }
    out->pixels = pixels;
    jpeg_destroy_decompress(&info);
    return LM_IMAGE_OK;
}

// MARK: - PNG

static int decode_png(const unsigned char *data, size_t size, int channels, uint64_t max_pixels,
                      lm_image *out, char *message, size_t capacity) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        set_message(message, capacity, image.message);
        png_image_free(&image);
        return LM_IMAGE_CORRUPT;
    }
    if ((uint64_t)image.width * image.height > max_pixels) {
        char text[160];
        snprintf(text, sizeof text, "%ux%u pixels exceeds the limit of %llu", image.width, image.height,
                 (unsigned long long)max_pixels);
        set_message(message, capacity, text);
        png_image_free(&image);
        return LM_IMAGE_TOO_LARGE;
    }
    // 16-bit files are read as they are stored (libpng's simplified API takes them as
    // linear) and reduced to their high byte; 8-bit output from them would be gamma-encoded.
    const int sixteen = (image.format & PNG_FORMAT_FLAG_LINEAR) != 0;
    const int colour = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
    const int to_gray = channels == 1 && colour;
    const int read_channels = channels == 1 && !colour ? 1 : 3;
    // 8-bit alpha is read and then dropped, as Pillow's convert("RGB") does; libpng
    // would otherwise composite it onto a background.
    const int alpha = !sixteen && (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    if (sixteen) image.format = read_channels == 1 ? PNG_FORMAT_LINEAR_Y : PNG_FORMAT_LINEAR_RGB;
    else if (alpha) image.format = read_channels == 1 ? PNG_FORMAT_GA : PNG_FORMAT_RGBA;
    else image.format = read_channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    size_t bytes = PNG_IMAGE_SIZE(image);
    const size_t pixel_count = (size_t)image.width * image.height;
    unsigned char *raw = malloc(bytes);
    const int separate = sixteen || alpha;
    unsigned char *pixels = separate ? malloc(pixel_count * read_channels) : raw;
    if (!raw || !pixels) {
        free(raw);
        if (separate) free(pixels);
        png_image_free(&image);
        set_message(message, capacity, "out of memory");
        return LM_IMAGE_NO_MEMORY;
    }
    png_color black = {0, 0, 0};
    if (!png_image_finish_read(&image, &black, raw, 0, NULL)) {
        set_message(message, capacity, image.message);
        if (separate) free(pixels);
        free(raw);
        png_image_free(&image);
        return LM_IMAGE_CORRUPT;
    }
    if (sixteen) {
        const uint16_t *wide = (const uint16_t *)raw;
        for (size_t i = 0; i < pixel_count * read_channels; i++) pixels[i] = (unsigned char)(wide[i] >> 8);
        free(raw);
    } else if (alpha) {
        for (size_t i = 0; i < pixel_count; i++)
            for (int c = 0; c < read_channels; c++) pixels[i * read_channels + c] = raw[i * (read_channels + 1) + c];
        free(raw);
    }
    if (to_gray) rgb_to_gray(pixels, pixels, pixel_count);
    out->width = (int)image.width;
    out->height = (int)image.height;
    out->channels = channels == 1 ? 1 : 3;
    out->pixels = pixels;
    return LM_IMAGE_OK;
}

int lm_image_decode(const unsigned char *data, size_t size, int channels, uint64_t max_pixels,
                    lm_image *out, char *message, size_t capacity) {
    memset(out, 0, sizeof *out);
    set_message(message, capacity, "");
    if (channels != 1 && channels != 3) {
        set_message(message, capacity, "channels must be 1 or 3");
        return LM_IMAGE_UNKNOWN_FORMAT;
    }
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return decode_jpeg(data, size, channels, max_pixels, out, message, capacity);
    static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size >= 8 && memcmp(data, png_magic, 8) == 0)
        return decode_png(data, size, channels, max_pixels, out, message, capacity);
    set_message(message, capacity, size == 0 ? "the file is empty" : "not a JPEG or PNG file");
    return LM_IMAGE_UNKNOWN_FORMAT;
}

void lm_image_free(lm_image *image) {
    if (!image) return;
    free(image->pixels);
    image->pixels = NULL;
}

int lm_image_encode_png(const unsigned char *pixels, int width, int height, int channels,
                        unsigned char **out, size_t *size, char *message, size_t capacity) {
    *out = NULL;
    *size = 0;
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    size_t bytes = 0;
    if (!png_image_write_to_memory(&image, NULL, &bytes, 0, pixels, 0, NULL)) {
        set_message(message, capacity, image.message);
        return LM_IMAGE_CORRUPT;
    }
    unsigned char *buffer = malloc(bytes);
    if (!buffer) {
        set_message(message, capacity, "out of memory");
        return LM_IMAGE_NO_MEMORY;
    }
    if (!png_image_write_to_memory(&image, buffer, &bytes, 0, pixels, 0, NULL)) {
        set_message(message, capacity, image.message);
        free(buffer);
        return LM_IMAGE_CORRUPT;
    }
    *out = buffer;
    *size = bytes;
    return LM_IMAGE_OK;
}

void lm_buffer_release(void *buffer) { free(buffer); }

int lm_image_encode_jpeg(const unsigned char *pixels, int width, int height, int channels, int quality,
                         unsigned char **out, size_t *size, char *message, size_t capacity) {
    *out = NULL;
    *size = 0;
    struct jpeg_compress_struct info;
    struct jpeg_failure failure;
    unsigned char *volatile buffer = NULL;
    unsigned long length = 0;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    if (setjmp(failure.jump)) {
        set_message(message, capacity, failure.text);
        jpeg_destroy_compress(&info);
        free(buffer);
        return LM_IMAGE_CORRUPT;
    }
    jpeg_create_compress(&info);
    unsigned char *target = NULL;
    jpeg_mem_dest(&info, &target, &length);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = channels;
    info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * width * channels);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    buffer = target;
    jpeg_destroy_compress(&info);
    *out = buffer;
    *size = length;
    return LM_IMAGE_OK;
}

// Image decoding for the C shim: JPEG through libjpeg(-turbo), PNG through libpng.
// The only code in Lumen that calls those libraries.
#ifndef LUMEN_IMAGEIO_H
#define LUMEN_IMAGEIO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Decoded 8-bit pixels, row-major and interleaved (HWC).
typedef struct lm_image {
    int width;
    int height;
    int channels;           // 1 (grayscale) or 3 (RGB), as asked for
    unsigned char *pixels;  // width * height * channels bytes; free with lm_image_free
} lm_image;

/// Status codes of lm_image_decode.
enum {
    LM_IMAGE_OK = 0,
    LM_IMAGE_UNKNOWN_FORMAT = 1,   // neither JPEG nor PNG by its first bytes
    LM_IMAGE_CORRUPT = 2,          // the decoder refused it; `message` says why
    LM_IMAGE_TOO_LARGE = 3,        // more pixels than max_pixels
    LM_IMAGE_NO_MEMORY = 4,
};

/// Decodes a JPEG or PNG held in memory into 1 or 3 channels: grayscale images are
/// expanded to RGB and colour images reduced to gray as asked; PNG palettes, 16-bit
/// samples and alpha (composited on black) are converted. Images of more than
/// `max_pixels` pixels are refused before their pixels are decoded. On failure
/// `message` (when not NULL) holds a one-line reason.
int lm_image_decode(const unsigned char *data, size_t size, int channels, uint64_t max_pixels,
                    lm_image *out, char *message, size_t message_capacity);

void lm_image_free(lm_image *image);

/// Encodes 8-bit HWC pixels (1 or 3 channels) as PNG into a malloc'd buffer that the
/// caller frees with lm_buffer_release. Returns LM_IMAGE_OK or LM_IMAGE_CORRUPT.
int lm_image_encode_png(const unsigned char *pixels, int width, int height, int channels,
                        unsigned char **out, size_t *size, char *message, size_t message_capacity);

/// Encodes 8-bit HWC pixels (1 or 3 channels) as baseline JPEG at `quality` (1–100).
int lm_image_encode_jpeg(const unsigned char *pixels, int width, int height, int channels, int quality,
                         unsigned char **out, size_t *size, char *message, size_t message_capacity);

void lm_buffer_release(void *buffer);

#ifdef __cplusplus
}
#endif

#endif

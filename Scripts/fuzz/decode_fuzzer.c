// libFuzzer harness for the C shim's image decoders (JPEG through libjpeg, PNG through
// libpng): any bytes, both channel counts. Crashes, hangs and leaks are findings.
#include <stddef.h>
#include <stdint.h>

#include "imageio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int channels = 1; channels <= 3; channels += 2) {
        lm_image image;
        char message[256];
        // A small pixel limit keeps a fuzzed header from asking for gigabytes.
        if (lm_image_decode(data, size, channels, 4u << 20, &image, message, sizeof message) == LM_IMAGE_OK) {
            volatile unsigned sum = 0;
            for (size_t i = 0; i < (size_t)image.width * image.height * image.channels; i += 97) sum += image.pixels[i];
        }
        lm_image_free(&image);
    }
    return 0;
}

/* Writes a YCCK JPEG (with the Adobe marker, as Photoshop and scanners do) from raw
 * CMYK bytes on standard input, for Scripts/make-image-fixtures.py: Pillow reads YCCK
 * but cannot write it.
 *   cc Scripts/write-ycck-jpeg.c -ljpeg -o write-ycck-jpeg
 *   write-ycck-jpeg WIDTH HEIGHT < pixels.cmyk > out.jpg
 */
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: write-ycck-jpeg WIDTH HEIGHT < pixels.cmyk > out.jpg\n");
        return 2;
    }
    const int width = atoi(argv[1]), height = atoi(argv[2]);
    const size_t stride = (size_t)width * 4;
    unsigned char *pixels = malloc(stride * height);
    if (!pixels || fread(pixels, 1, stride * height, stdin) != stride * height) {
        fprintf(stderr, "write-ycck-jpeg: expected %zu bytes of CMYK on standard input\n", stride * height);
        return 1;
    }
    struct jpeg_compress_struct info;
    struct jpeg_error_mgr errors;
    info.err = jpeg_std_error(&errors);
    jpeg_create_compress(&info);
    jpeg_stdio_dest(&info, stdout);
    info.image_width = width;
    info.image_height = height;
    info.input_components = 4;
    info.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&info);
    jpeg_set_colorspace(&info, JCS_YCCK);
    jpeg_set_quality(&info, 92, TRUE);
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = pixels + stride * info.next_scanline;
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    free(pixels);
    return 0;
}

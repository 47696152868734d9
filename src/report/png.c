/* A minimal PNG writer for report.html's example images: 8-bit grey or
 * RGB, one IDAT chunk deflated by zlib (already a dependency for .gz input;
 * libpng would add a library for these 60 lines), base64 for a data: URL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* length, type, data, CRC over type + data. */
static size_t chunk(unsigned char *out, const char *type, const unsigned char *data, size_t n)
{
    put32(out, (uint32_t)n);
    memcpy(out + 4, type, 4);
    if (n) memcpy(out + 8, data, n);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, out + 4, (uInt)(n + 4));
    put32(out + 8 + n, (uint32_t)crc);
    return n + 12;
}

static void base64(const unsigned char *in, size_t n, dt_sbuf *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char quad[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        quad[0] = tab[v >> 18 & 63];
        quad[1] = tab[v >> 12 & 63];
        quad[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        quad[3] = i + 2 < n ? tab[v & 63] : '=';
        dt_sb_putn(out, quad, 4);
    }
}

int dt_png_base64(const unsigned char *pixels, int w, int h, int channels, dt_sbuf *out)
{
    if (w <= 0 || h <= 0 || (channels != 1 && channels != 3)) return 0;
    size_t row = (size_t)w * (size_t)channels + 1, raw_n = row * (size_t)h;
    unsigned char *raw = malloc(raw_n);
    uLongf z_n = compressBound((uLong)raw_n);
    unsigned char *png = malloc(8 + 25 + 12 + z_n + 12);
    unsigned char *z = malloc(z_n);
    int ok = raw && png && z;
    if (ok) {
        for (int y = 0; y < h; y++) {
            raw[(size_t)y * row] = 0;   /* filter: none */
            memcpy(raw + (size_t)y * row + 1, pixels + (size_t)y * (row - 1), row - 1);
        }
        ok = compress2(z, &z_n, raw, (uLong)raw_n, 9) == Z_OK;
    }
    if (ok) {
        static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
        unsigned char ihdr[13];
        put32(ihdr, (uint32_t)w);
        put32(ihdr + 4, (uint32_t)h);
        ihdr[8] = 8;                          /* bit depth */
        ihdr[9] = channels == 1 ? 0 : 2;      /* grey | RGB */
        ihdr[10] = ihdr[11] = ihdr[12] = 0;   /* deflate, adaptive filtering, no interlace */
        size_t len = 0;
        memcpy(png, sig, 8);
        len = 8;
        len += chunk(png + len, "IHDR", ihdr, sizeof ihdr);
        len += chunk(png + len, "IDAT", z, z_n);
        len += chunk(png + len, "IEND", NULL, 0);
        base64(png, len, out);
        ok = !out->oom;
    }
    free(raw);
    free(png);
    free(z);
    return ok;
}

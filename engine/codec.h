/*
 * The data encodings of sockgate: JMP's "ASCII~HEX", base64 and hex.
 *
 * Pure C with no I/O, no globals and no allocation, so that the server and the browser
 * console's WebAssembly module compile this same file. The caller owns every buffer and
 * sizes it with the *_max functions; nothing here writes past what those promise.
 */
#ifndef SOCKGATE_CODEC_H
#define SOCKGATE_CODEC_H

#include <stddef.h>
#include <stdint.h>

enum codec_encoding {
    CODEC_ASCIIHEX = 0, /* JMP's ascii~hex: printable bytes as is, others as ~XX */
    CODEC_BASE64,       /* RFC 4648 base64 with padding */
    CODEC_HEX,          /* two hex digits per byte */
};

/* Finds the encoding named `name` ("ascii~hex", "base64", "hex"; case-insensitive).
 * Returns 0 and sets *out, or -EINVAL for an unknown name. */
int codec_encoding_from_name(const char *name, enum codec_encoding *out);

/* The canonical name of an encoding ("ascii~hex", "base64", "hex"). */
const char *codec_encoding_name(enum codec_encoding enc);

/* The most characters that encoding `len` bytes can produce. */
size_t codec_encoded_max(enum codec_encoding enc, size_t len);

/* Encodes `len` bytes of `in` into `out`, which holds at least codec_encoded_max() chars.
 * Writes no terminating NUL. Returns the number of chars written. */
size_t codec_encode(enum codec_encoding enc, const uint8_t *in, size_t len, char *out);

/* The most bytes that decoding `len` chars can produce. */
size_t codec_decoded_max(enum codec_encoding enc, size_t len);

/* Decodes `len` chars of `in` into `out`, which holds at least codec_decoded_max() bytes.
 * Returns the number of bytes written, or -EINVAL for malformed input, in which case
 * *err_offset (if not NULL) is the offset in `in` of the first bad character or escape,
 * or -EOVERFLOW when the count does not fit a long (inputs over 2 GB in 32-bit wasm).
 * ascii~hex: "~" and two hex digits of either case is that byte; any other byte (UTF-8
 * included) stands for itself. base64 accepts padding and ignores nothing else. */
long codec_decode(enum codec_encoding enc, const char *in, size_t len, uint8_t *out,
                  size_t *err_offset);

#endif

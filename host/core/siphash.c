/* SipHash-c-d, written from the paper's description: four 64-bit words of
 * state, c rounds per 8-byte block, the length in the top byte of the last
 * block, d rounds to finish. */
#include "fmhost/siphash.h"

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static inline uint64_t le64(const unsigned char *p) {
  return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
         (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

#define SIPROUND          \
  do {                    \
    v0 += v1;             \
    v1 = rotl(v1, 13);    \
    v1 ^= v0;             \
    v0 = rotl(v0, 32);    \
    v2 += v3;             \
    v3 = rotl(v3, 16);    \
    v3 ^= v2;             \
    v0 += v3;             \
    v3 = rotl(v3, 21);    \
    v3 ^= v0;             \
    v2 += v1;             \
    v1 = rotl(v1, 17);    \
    v1 ^= v2;             \
    v2 = rotl(v2, 32);    \
  } while (0)

static uint64_t siphash(const unsigned char k[16], const void *data, size_t n, int c, int d) {
  const unsigned char *p = data;
  uint64_t k0 = le64(k), k1 = le64(k + 8);
  uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ k0, v1 = UINT64_C(0x646f72616e646f6d) ^ k1;
  uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ k0, v3 = UINT64_C(0x7465646279746573) ^ k1;
  size_t left = n;
  for (; left >= 8; left -= 8, p += 8) {
    uint64_t m = le64(p);
    v3 ^= m;
    for (int r = 0; r < c; r++) SIPROUND;
    v0 ^= m;
  }
  uint64_t m = (uint64_t)(n & 0xFF) << 56;
  for (size_t i = 0; i < left; i++) m |= (uint64_t)p[i] << (8 * i);
  v3 ^= m;
  for (int r = 0; r < c; r++) SIPROUND;
  v0 ^= m;
  v2 ^= 0xFF;
  for (int r = 0; r < d; r++) SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t fmh_siphash24(const unsigned char k[16], const void *p, size_t n) { return siphash(k, p, n, 2, 4); }

uint64_t fmh_siphash13(const unsigned char k[16], const void *p, size_t n) { return siphash(k, p, n, 1, 3); }

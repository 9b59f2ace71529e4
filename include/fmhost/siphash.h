/* SipHash (Aumasson and Bernstein, 2012): a keyed 64-bit pseudorandom
 * function of a byte string, non-linear, fast on short inputs. SipHash-2-4
 * is the paper's recommended form; SipHash-1-3 (one compression round per
 * block, three to finish) the lighter one that hash tables adopted for
 * speed. fmhost uses SipHash-1-3 where both values it compares are hashed in
 * this process (validate's checksum mode with both sides read here), under
 * a key drawn at random per run: nobody can choose rows that collide. */
#ifndef FMHOST_SIPHASH_H
#define FMHOST_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash of p[0..n) under the 16-byte key k. */
uint64_t fmh_siphash24(const unsigned char k[16], const void *p, size_t n);
uint64_t fmh_siphash13(const unsigned char k[16], const void *p, size_t n);

#endif

/* edgemnist_preprocess.c -- written by edgemnist (edgemnist.build.preprocess); do not edit.
 *
 * edgemnist.images.normalize_digit in C99 (see edgemnist_preprocess.h). Each step names the Python function it
 * repeats; double operations follow the Python expressions operand for operand. Where the Python code sums a
 * whole array (_osum, a left-to-right cumsum), the C loop adds in the same row-major order, starting from -0.0
 * (which, like cumsum, leaves the first term as it is). Nothing here allocates or calls a library function.
 */
#include "edgemnist_preprocess.h"

#include <float.h>

#if defined(__FAST_MATH__)
#error "edgemnist_preprocess.c needs IEEE 754 double arithmetic: compile it without -ffast-math"
#endif
#if FLT_EVAL_METHOD != 0
#error "edgemnist_preprocess.c needs doubles evaluated in double precision (FLT_EVAL_METHOD 0; on x86 use SSE2)"
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#ifndef EDGEMNIST_PREPROCESS_ONLY
#include "edgemnist_model.h"
#endif

#define PP_W EDGEMNIST_PP_MAX_WIDTH
#define PP_H EDGEMNIST_PP_MAX_HEIGHT
#define PP_FRAME EDGEMNIST_PP_MAX_FRAME
#define PP_BOX 20 /* images.BOX */
#define PP_SIDE EDGEMNIST_PP_SIDE

typedef char edgemnist_pp_max_size_check[(PP_W >= PP_SIDE && PP_H >= PP_SIDE && PP_W <= 4096 && PP_H <= 4096) ? 1 : -1];
typedef char edgemnist_pp_output_check[EDGEMNIST_PP_OUTPUT_SIZE == PP_SIDE * PP_SIDE ? 1 : -1];

static uint64_t pp_keys[PP_FRAME];              /* order keys of the values whose median is taken */
static uint8_t pp_keep[(PP_FRAME + 7) / 8];     /* the border pixels the plane is fitted to (one bit each) */
static double pp_u[PP_W], pp_v[PP_H];           /* centred coordinates of each column / row */
static double pp_tx[PP_W], pp_ty[PP_H];         /* the plane: c0 + c1 u per column, c2 v per row */
static double pp_rowpeak[2][PP_H], pp_colpeak[2][PP_W]; /* per row / column: the largest ink (light, dark) */
static double pp_row[PP_W];                     /* one cropped row of ink */
static double pp_line[PP_BOX];                  /* that row scaled to the box's width */
static double pp_box[PP_BOX * PP_BOX];          /* the scaled digit */

/* The grey levels 0-255 as doubles (a table read is cheaper than an integer conversion in soft-float). */
#define PP_Z4(b) (b), (b) + 1.0, (b) + 2.0, (b) + 3.0
#define PP_Z16(b) PP_Z4(b), PP_Z4((b) + 4.0), PP_Z4((b) + 8.0), PP_Z4((b) + 12.0)
#define PP_Z64(b) PP_Z16(b), PP_Z16((b) + 16.0), PP_Z16((b) + 32.0), PP_Z16((b) + 48.0)
static const double pp_grey[256] = {PP_Z64(0.0), PP_Z64(64.0), PP_Z64(128.0), PP_Z64(192.0)};

typedef union {
  double d;
  uint64_t u;
} pp_bits;

/* The bits of a non-negative double: ordered as the doubles are (+0.0 for -0.0). */
static uint64_t pp_key(double x) {
  pp_bits b;
  b.d = x;
  return b.u & 0x7FFFFFFFFFFFFFFFull;
}

static double pp_value(uint64_t key) {
  pp_bits b;
  b.u = key;
  return b.d;
}

static double pp_abs(double x) { return pp_value(pp_key(x)); }

static void pp_sift(uint64_t *a, long root, long n) {
  for (;;) {
    long child = 2 * root + 1;
    uint64_t t;
    if (child >= n) return;
    if (child + 1 < n && a[child + 1] > a[child]) ++child;
    if (a[root] >= a[child]) return;
    t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

static void pp_heapsort(uint64_t *a, long n) {
  long i;
  for (i = n / 2 - 1; i >= 0; --i) pp_sift(a, i, n);
  for (i = n - 1; i > 0; --i) {
    uint64_t t = a[0];
    a[0] = a[i];
    a[i] = t;
    pp_sift(a, 0, i);
  }
}

/* Reorder a[0..n) so that a[k] is the k-th smallest, nothing after it smaller, nothing before it larger
 * (quickselect, median-of-three; a heapsort of what is left if it does not converge). */
static void pp_select(uint64_t *a, long n, long k) {
  long lo = 0, hi = n - 1;
  int budget = 64;
  while (hi > lo) {
    long i = lo, j = hi, mid = lo + (hi - lo) / 2;
    uint64_t pivot, t;
    if (budget-- == 0) {
      pp_heapsort(a + lo, hi - lo + 1);
      return;
    }
    if (a[mid] < a[lo]) { t = a[mid]; a[mid] = a[lo]; a[lo] = t; }
    if (a[hi] < a[lo]) { t = a[hi]; a[hi] = a[lo]; a[lo] = t; }
    if (a[hi] < a[mid]) { t = a[hi]; a[hi] = a[mid]; a[mid] = t; }
    pivot = a[mid];
    while (i <= j) {
      while (a[i] < pivot) ++i;
      while (a[j] > pivot) --j;
      if (i <= j) {
        t = a[i];
        a[i] = a[j];
        a[j] = t;
        ++i;
        --j;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/* np.median of the n (>= 1) non-negative values whose keys are in pp_keys[0..n). */
static double pp_median(long n) {
  long k = n / 2, i;
  uint64_t below;
  pp_select(pp_keys, n, k);
  if (n % 2) return pp_value(pp_keys[k]);
  below = pp_keys[0];
  for (i = 1; i < k; ++i)
    if (pp_keys[i] > below) below = pp_keys[i];
  return (pp_value(below) + pp_value(pp_keys[k])) / 2.0;
}

/* Python's round() / numpy's rint(): halves to even. */
static long pp_round(double x) {
  long i;
  double f;
  if (x < 0) return -pp_round(-x);
  i = (long)x;
  f = x - (double)i;
  if (f > 0.5 || (f == 0.5 && (i & 1))) ++i;
  return i;
}

/* images._solve3's det: columns (a, b, d) of the symmetric 3x3 system. */
static double pp_det(double a1, double a2, double a3, double b1, double b2, double b3, double d1, double d2,
                     double d3) {
  return a1 * (b2 * d3 - b3 * d2) - b1 * (a2 * d3 - a3 * d2) + d1 * (a2 * b3 - a3 * b2);
}

/* The next column of row y in the border frame (k pixels thick) after column x. */
static int pp_next_x(int x, int y, int k, int w, int h) {
  ++x;
  if (x == k && y >= k && y < h - k && k < w - k) x = w - k;
  return x;
}

#define PP_BLOCK 16 /* columns per quiet range */

/* Pixel values g for which r = g - background is surely within [-t, t] in row y, columns [xb, xe): [*lo, *hi],
 * empty when *lo > *hi; and (when out_lo is given) surely outside it: g <= *out_lo or g >= *out_hi. Along a row
 * the background is monotone (pp_tx is), so it lies between its values at the block's ends; 1e-6 grey levels
 * cover the rounding of the bounds, and rounding to nearest keeps r's side of -t and t. Other pixels take the
 * exact path, so the bytes are the same with or without these shortcuts. */
static void pp_quiet(int y, int xb, int xe, double t, long *lo, long *hi, long *out_lo, long *out_hi) {
  double a = pp_tx[xb] + pp_ty[y], b = pp_tx[xe - 1] + pp_ty[y], v;
  *lo = 1;
  *hi = 0;
  if (out_lo) {
    *out_lo = -1;
    *out_hi = 256;
  }
  if (a > b) {
    v = a;
    a = b;
    b = v;
  }
  if (!(a > -1e6 && b < 1e6 && t < 1e6)) return;
  v = b - t + 1e-6; /* g > v: g - b > -t */
  *lo = (long)v;
  if ((double)*lo <= v) ++*lo;
  v = a + t - 1e-6; /* g < v: g - a < t */
  *hi = (long)v;
  if ((double)*hi >= v) --*hi;
  if (out_lo) {
    v = a - t - 1e-6; /* g < v: g - a < -t */
    *out_lo = (long)v;
    if ((double)*out_lo >= v) --*out_lo;
    v = b + t + 1e-6; /* g > v: g - b > t */
    *out_hi = (long)v;
    if ((double)*out_hi <= v) ++*out_hi;
  }
}

#define PP_KEPT(i) ((pp_keep[(i) >> 3] >> ((i) & 7)) & 1u)

/* images._residual: fits the background plane to the border frame; fills pp_tx/pp_ty and returns the noise. */
static double pp_background(int w, int h, const uint8_t *gray) {
  const int k = (h < w ? h : w) / 20 > 1 ? (h < w ? h : w) / 20 : 1;
  const double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0, scale = (h > w ? h : w) / 2.0;
  double c0, c1 = 0.0, c2 = 0.0, sigma = 0.0;
  long m = 0, kept, i;
  int x, y, iter, by, bx = 0;
  long in_lo = 1, in_hi = 0, out_lo = -1, out_hi = 256;
  for (x = 0; x < w; ++x) {
    pp_u[x] = ((double)x - cx) / scale;
  }
  for (y = 0; y < h; ++y) {
    pp_v[y] = ((double)y - cy) / scale;
  }
  /* The frame in row-major order (np.nonzero of the mask); i counts its pixels. */
#define PP_FRAME_FOR for (i = 0, y = 0; y < h; ++y) for (x = 0; x < w; x = pp_next_x(x, y, k, w, h), ++i)
  PP_FRAME_FOR {
    pp_keys[i] = pp_key(pp_grey[gray[y * w + x]]);
    if ((i & 7) == 0) pp_keep[i >> 3] = 0xFF;
  }
  m = i;
  c0 = pp_median(m);
  kept = m;
  for (iter = 0; iter < 3; ++iter) {
    long n = kept;
    double limit;
    if (n >= 3) {
      double su = -0.0, sv = -0.0, suu = -0.0, suv = -0.0, svv = -0.0, suz = -0.0, svz = -0.0;
      double nd = (double)n, big, d, sz;
      unsigned long zsum = 0; /* a sum of integers: exact, as the double sum is */
      for (x = 0; x < w; ++x) pp_tx[x] = pp_u[x] * pp_u[x]; /* u * u and v * v, before the plane goes here */
      for (y = 0; y < h; ++y) pp_ty[y] = pp_v[y] * pp_v[y];
      PP_FRAME_FOR {
        if (PP_KEPT(i)) {
          const unsigned zi = gray[y * w + x];
          const double u = pp_u[x], v = pp_v[y], z = pp_grey[zi];
          su += u;
          sv += v;
          suu += pp_tx[x];
          suv += u * v;
          svv += pp_ty[y];
          zsum += zi;
          suz += u * z;
          svz += v * z;
        }
      }
      sz = (double)zsum;
      big = nd > 1.0 ? nd : 1.0;
      d = pp_det(nd, su, sv, su, suu, suv, sv, suv, svv);
      if (pp_abs(d) > 1e-12 * (big * big * big)) {
        c0 = pp_det(sz, suz, svz, su, suu, suv, sv, suv, svv) / d;
        c1 = pp_det(nd, su, sv, sz, suz, svz, sv, suv, svv) / d;
        c2 = pp_det(nd, su, sv, su, suu, suv, sz, suz, svz) / d;
      }
    }
    for (x = 0; x < w; ++x) pp_tx[x] = c0 + c1 * pp_u[x];
    for (y = 0; y < h; ++y) pp_ty[y] = c2 * pp_v[y];
    n = 0;
    PP_FRAME_FOR {
      if (PP_KEPT(i)) pp_keys[n++] = pp_key(pp_grey[gray[y * w + x]] - (pp_tx[x] + pp_ty[y]));
    }
    sigma = 1.4826 * pp_median(n);
    limit = 3.0 * sigma >= 2.0 ? 3.0 * sigma : 2.0;
    kept = 0;
    by = -1;
    PP_FRAME_FOR {
      const uint8_t bit = (uint8_t)(1u << (i & 7));
      const long g = gray[y * w + x];
      int in;
      if (y != by || x / PP_BLOCK != bx) { /* |res| <= limit, decided from integer bounds where they are sure */
        const int xb = x / PP_BLOCK * PP_BLOCK;
        by = y;
        bx = x / PP_BLOCK;
        pp_quiet(y, xb, xb + PP_BLOCK < w ? xb + PP_BLOCK : w, limit, &in_lo, &in_hi, &out_lo, &out_hi);
      }
      if (g >= in_lo && g <= in_hi) in = 1;
      else if (g <= out_lo || g >= out_hi) in = 0;
      else in = pp_abs(pp_grey[g] - (pp_tx[x] + pp_ty[y])) <= limit;
      if (in) {
        pp_keep[i >> 3] |= bit;
        ++kept;
      } else {
        pp_keep[i >> 3] &= (uint8_t)~bit;
      }
    }
  }
#undef PP_FRAME_FOR
  return sigma;
}

/* images._is_mnist_like on a 28x28 image (integers, so every sum is exact). */
static int pp_mnist_like(const uint8_t *gray, int inv) {
  unsigned long total = 0, my = 0, mx = 0;
  long n = 0;
  int r, c, peak = 0;
#define PP_A(r, c) (inv ? 255 - gray[(r) * PP_SIDE + (c)] : gray[(r) * PP_SIDE + (c)])
  for (r = 0; r < 4; ++r) { /* _border_median's frame: a[:1], a[-1:], a[:, :1], a[:, -1:] */
    for (c = 0; c < PP_SIDE; ++c) {
      const int a = r == 0 ? PP_A(0, c) : r == 1 ? PP_A(PP_SIDE - 1, c) : r == 2 ? PP_A(c, 0) : PP_A(c, PP_SIDE - 1);
      pp_keys[n++] = pp_key((double)a);
    }
  }
  if (pp_median(n) > 0.5) return 0;
  for (r = 0; r < PP_SIDE; ++r) {
    unsigned long s = 0;
    for (c = 0; c < PP_SIDE; ++c) {
      const int a = PP_A(r, c);
      s += (unsigned long)a;
      mx += (unsigned long)a * (unsigned long)c;
      if (a > peak) peak = a;
    }
    total += s;
    my += s * (unsigned long)r;
  }
#undef PP_A
  if (peak <= 8 || total == 0) return 0;
  {
    const double cy = (double)my / (double)total, cx = (double)mx / (double)total;
    return pp_abs(cy - 13.5) <= 1.5 && pp_abs(cx - 13.5) <= 1.5;
  }
}

/* One cropped row of ink, a = clip(r - t, 0) * (255 / peak) (normalize_digit), into dst. */
static void pp_ink_row(double *dst, int w, const uint8_t *gray, int y, int x0, int n, int inv, double t, double s) {
  int xb, x;
  for (xb = 0; xb < n; xb += PP_BLOCK) {
    const int xe = xb + PP_BLOCK < n ? xb + PP_BLOCK : n;
    long lo, hi;
    pp_quiet(y, x0 + xb, x0 + xe, t, &lo, &hi, 0, 0);
    for (x = xb; x < xe; ++x) {
      const long g = gray[y * w + x0 + x];
      double r;
      if (g >= lo && g <= hi) {
        dst[x] = 0.0;
        continue;
      }
      r = pp_grey[g] - (pp_tx[x0 + x] + pp_ty[y]);
      if (inv) r = -r;
      dst[x] = r > t ? (r - t) * s : 0.0;
    }
  }
}

int edgemnist_normalize_digit(int width, int height, const uint8_t *gray, int invert,
                              uint8_t out[EDGEMNIST_PP_OUTPUT_SIZE]) {
  const int w = width, h = height;
  double noise, t, threshold, peak = 0.0, s, ink, scale, total = -0.0, my = -0.0, mx = -0.0, cy, cx;
  double dark = -0.0, light = -0.0;
  int inv, x, y, r0 = -1, r1 = -1, x0 = -1, x1 = -1, ch, cw, bw, bh, top, left, i, j;
  if (gray == 0 || out == 0 || w < 1 || h < 1 || invert < -1 || invert > 1) return EDGEMNIST_PP_BAD_ARGUMENT;
  if (w > PP_W || h > PP_H) return EDGEMNIST_PP_TOO_LARGE;
  noise = pp_background(w, h, gray);
  t = 3.0 * noise; /* NOISE_SIGMAS * noise */
  /* One pass over the image: r = a - background; the light ink r - t and the dark ink -r - t where positive
   * (r > t exactly when r - t > 0): their sums (_dark_side_wins; zeros add nothing) and their largest value per
   * row and per column (the crop below; scaling by 255 / peak keeps their order). */
  for (y = 0; y < h; ++y) {
    double row_light = 0.0, row_dark = 0.0;
    int xb;
    for (xb = 0; xb < w; xb += PP_BLOCK) {
      const int xe = xb + PP_BLOCK < w ? xb + PP_BLOCK : w;
      long lo, hi;
      pp_quiet(y, xb, xe, t, &lo, &hi, 0, 0);
      for (x = xb; x < xe; ++x) {
        const long g = gray[y * w + x];
        double ink_light = 0.0, ink_dark = 0.0;
        if (g < lo || g > hi) {
          const double r = pp_grey[g] - (pp_tx[x] + pp_ty[y]);
          if (r > t) {
            ink_light = r - t;
            light += ink_light;
            if (ink_light > row_light) row_light = ink_light;
          } else if (-r > t) {
            ink_dark = -r - t;
            dark += ink_dark;
            if (ink_dark > row_dark) row_dark = ink_dark;
          }
        }
        if (y == 0) {
          pp_colpeak[0][x] = ink_light;
          pp_colpeak[1][x] = ink_dark;
        } else {
          if (ink_light > pp_colpeak[0][x]) pp_colpeak[0][x] = ink_light;
          if (ink_dark > pp_colpeak[1][x]) pp_colpeak[1][x] = ink_dark;
        }
      }
    }
    pp_rowpeak[0][y] = row_light;
    pp_rowpeak[1][y] = row_dark;
  }
  inv = invert == EDGEMNIST_PP_INVERT_AUTO ? dark > light : invert;
  if (w == PP_SIDE && h == PP_SIDE && pp_mnist_like(gray, inv)) { /* already an MNIST digit: as it is */
    const uint8_t flip = inv ? 0xFF : 0x00; /* 255 - a */
    for (i = 0; i < PP_SIDE * PP_SIDE; ++i) out[i] = (uint8_t)(gray[i] ^ flip);
    return EDGEMNIST_PP_OK;
  }
  threshold = 8.0 >= t ? 8.0 : t; /* max(BLANK_LEVELS, NOISE_SIGMAS * noise) */
  for (y = 0; y < h; ++y)
    if (pp_rowpeak[inv][y] > peak) peak = pp_rowpeak[inv][y];
  if (peak <= threshold) return EDGEMNIST_PP_BLANK;
  s = 255.0 / peak;
  ink = 0.2 * 255.0; /* INK_FRACTION * 255.0 */
  for (y = 0; y < h; ++y) {
    if (pp_rowpeak[inv][y] * s > ink) {
      if (r0 < 0) r0 = y;
      r1 = y;
    }
  }
  for (x = 0; x < w; ++x) {
    if (pp_colpeak[inv][x] * s > ink) {
      if (x0 < 0) x0 = x;
      x1 = x;
    }
  }
  ch = r1 - r0 + 1;
  cw = x1 - x0 + 1;
  /* images._fit: the longer side to 20 px, rows first (cw -> bw), then columns (ch -> bh); each output is the
   * sum of its taps from the left (integer overlap weights), divided by the input length. The column pass is
   * fed one row at a time: each output row receives its input rows in increasing order, as the taps list them. */
  scale = (double)PP_BOX / (double)(ch > cw ? ch : cw);
  bw = (int)pp_round((double)cw * scale);
  bh = (int)pp_round((double)ch * scale);
  if (bw < 1) bw = 1;
  if (bh < 1) bh = 1;
  if (bw > PP_BOX) bw = PP_BOX; /* never: the longer side rounds to 20 */
  if (bh > PP_BOX) bh = PP_BOX;
  if (bw == cw && bh == ch) {
    for (y = 0; y < ch; ++y) {
      pp_ink_row(pp_box + y * bw, w, gray, r0 + y, x0, cw, inv, t, s);
    }
  } else {
    for (y = 0; y < ch; ++y) {
      const long first = (long)y * bh / ch, last = ((long)(y + 1) * bh - 1) / ch;
      long jj;
      pp_ink_row(pp_row, w, gray, r0 + y, x0, cw, inv, t, s);
      for (j = 0; j < bw; ++j) {
        const long lo = (long)j * cw, hi = (long)(j + 1) * cw;
        long ii;
        double acc = 0.0;
        for (ii = lo / bw; ii <= (hi - 1) / bw; ++ii) {
          const long a = (ii + 1) * bw < hi ? (ii + 1) * bw : hi, b = lo > ii * bw ? lo : ii * bw;
          acc += (double)(a - b) * pp_row[ii];
        }
        pp_line[j] = acc / (double)cw;
      }
      for (jj = first; jj <= last; ++jj) {
        const long lo = jj * ch, hi = (jj + 1) * ch;
        const long a = (long)(y + 1) * bh < hi ? (long)(y + 1) * bh : hi, b = lo > (long)y * bh ? lo : (long)y * bh;
        const double weight = (double)(a - b);
        double *acc = pp_box + jj * bw;
        if (y == 0 || lo / bh == y) { /* this output row's first tap: np.zeros + w * a */
          for (x = 0; x < bw; ++x) acc[x] = 0.0 + weight * pp_line[x];
        } else {
          for (x = 0; x < bw; ++x) acc[x] += weight * pp_line[x];
        }
      }
    }
    for (i = 0; i < bw * bh; ++i) {
      const double v = pp_box[i] / (double)ch;
      pp_box[i] = v < 0.0 ? 0.0 : (v > 255.0 ? 255.0 : v);
    }
  }
  /* images._place_by_mass: row sums left to right, column sums top to bottom, then their totals and moments. */
  for (y = 0; y < bh; ++y) {
    double sum = -0.0;
    for (x = 0; x < bw; ++x) sum += pp_box[y * bw + x];
    total += sum;
    my += sum * (double)y;
  }
  for (x = 0; x < bw; ++x) {
    double sum = -0.0;
    for (y = 0; y < bh; ++y) sum += pp_box[y * bw + x];
    mx += sum * (double)x;
  }
  /* total: _osum(row_sums), added in the same order as my; cy, cx as in Python */
  cy = my / total;
  cx = mx / total;
  top = (int)pp_round(13.5 - cy);
  left = (int)pp_round(13.5 - cx);
  top = top < 0 ? 0 : top;
  left = left < 0 ? 0 : left;
  top = top > PP_SIDE - bh ? PP_SIDE - bh : top;
  left = left > PP_SIDE - bw ? PP_SIDE - bw : left;
  for (y = 0; y < PP_SIDE; ++y) { /* the box pasted into a black field, rounded (rint) and clipped */
    for (x = 0; x < PP_SIDE; ++x) {
      long v = 0;
      if (y >= top && y < top + bh && x >= left && x < left + bw) v = pp_round(pp_box[(y - top) * bw + x - left]);
      out[y * PP_SIDE + x] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
    }
  }
  return EDGEMNIST_PP_OK;
}

#ifndef EDGEMNIST_PREPROCESS_ONLY
int edgemnist_predict_gray(int width, int height, const uint8_t *gray, int8_t *scores) {
  static uint8_t pixels[EDGEMNIST_INPUT_SIZE];
  int rc;
  if (scores == 0) return EDGEMNIST_PP_BAD_ARGUMENT;
  rc = edgemnist_normalize_digit(width, height, gray, EDGEMNIST_PP_INVERT_AUTO, pixels);
  return rc != EDGEMNIST_PP_OK ? rc : edgemnist_predict(pixels, scores);
}
#endif

"""numba kernels of the doodle world (compiled on first use, cached on disk).

* ``amateur_batch`` -- draw many parts as amateur strokes in one call (see
  :func:`.parts.amateur_strokes` for the model; this is the fast path used by the generator).
* ``composite_photo`` -- turn a part label map into a shaded, textured, noisy RGB photo.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: columns of the per-part random parameter table passed to ``amateur_batch``
N_UNIFORM, N_NORMAL, MAX_POINTS = 12, 3, 65


@lru_cache(maxsize=1)
def kernels():
    import numba

    @numba.njit(cache=True)
    def amateur_batch(points, offsets, closed, uni, nor, jitter, wobble, overshoot, gap_prob, spacing, part_scale, part_shift):
        n_parts = len(offsets) - 1
        out = np.empty((n_parts * (MAX_POINTS + 1), 2))
        ends = np.empty(n_parts * 2, dtype=np.int64)
        n_out = 0
        n_strokes = 0
        buf = np.empty((MAX_POINTS + 80, 2))
        path = np.empty((MAX_POINTS, 2))
        tan = np.empty((MAX_POINTS, 2))
        for i in range(n_parts):
            s0, s1 = offsets[i], offsets[i + 1]
            m = s1 - s0
            # memory noise: scale about the centroid, shift
            cx = 0.0
            cy = 0.0
            for j in range(s0, s1):
                cx += points[j, 0]
                cy += points[j, 1]
            cx /= m
            cy /= m
            sc = 1.0 + part_scale * nor[i, 0]
            dx = part_shift * nor[i, 1]
            dy = part_shift * nor[i, 2]
            k = int(uni[i, 0] * m) if closed[i] else 0
            nb = m + 1 if closed[i] else m
            for j in range(nb):
                q = s0 + (k + j) % m
                buf[j, 0] = (points[q, 0] - cx) * sc + cx + dx
                buf[j, 1] = (points[q, 1] - cy) * sc + cy + dy
            # resample at equal arc length
            total = 0.0
            for j in range(1, nb):
                total += np.sqrt((buf[j, 0] - buf[j - 1, 0]) ** 2 + (buf[j, 1] - buf[j - 1, 1]) ** 2)
            n = int(min(max(total / spacing, 2.0), MAX_POINTS - 1.0)) + 1
            seg = 0
            seg_start = 0.0
            seg_len = np.sqrt((buf[1, 0] - buf[0, 0]) ** 2 + (buf[1, 1] - buf[0, 1]) ** 2) if nb > 1 else 0.0
            for t in range(n):
                target = total * t / (n - 1)
                while seg < nb - 2 and seg_start + seg_len < target:
                    seg_start += seg_len
                    seg += 1
                    seg_len = np.sqrt((buf[seg + 1, 0] - buf[seg, 0]) ** 2 + (buf[seg + 1, 1] - buf[seg, 1]) ** 2)
                if nb == 1:
                    path[t, 0] = buf[0, 0]
                    path[t, 1] = buf[0, 1]
                    continue
                f = (target - seg_start) / seg_len if seg_len > 0 else 0.0
                f = min(max(f, 0.0), 1.0)
                path[t, 0] = buf[seg, 0] + f * (buf[seg + 1, 0] - buf[seg, 0])
                path[t, 1] = buf[seg, 1] + f * (buf[seg + 1, 1] - buf[seg, 1])
            for t in range(n):
                a = max(t - 1, 0)
                b = min(t + 1, n - 1)
                tx = path[b, 0] - path[a, 0]
                ty = path[b, 1] - path[a, 1]
                nrm = np.sqrt(tx * tx + ty * ty) + 1e-9
                tan[t, 0] = tx / nrm
                tan[t, 1] = ty / nrm
            f0 = 0.5 + 2.0 * uni[i, 1]
            f1 = 0.5 + 2.0 * uni[i, 2]
            p0 = 2 * np.pi * uni[i, 3]
            p1 = 2 * np.pi * uni[i, 4]
            a0 = wobble * (2.0 * uni[i, 5] - 1.0) * 1.7
            a1 = wobble * (2.0 * uni[i, 6] - 1.0) * 1.7
            for t in range(n):
                u = t / (n - 1)
                drift = a0 * np.sin(2 * np.pi * f0 * u + p0) + a1 * np.sin(2 * np.pi * f1 * u + p1)
                path[t, 0] += -tan[t, 1] * drift + 0.25 * wobble * jitter[i, t, 0]
                path[t, 1] += tan[t, 0] * drift + 0.25 * wobble * jitter[i, t, 1]
            if closed[i]:
                extra = (2.0 * uni[i, 7] - 1.0) * overshoot
                path[n - 1, 0] += tan[n - 1, 0] * extra
                path[n - 1, 1] += tan[n - 1, 1] * extra
            else:
                path[0, 0] -= tan[0, 0] * uni[i, 8] * overshoot
                path[0, 1] -= tan[0, 1] * uni[i, 8] * overshoot
                path[n - 1, 0] += tan[n - 1, 0] * uni[i, 9] * overshoot
                path[n - 1, 1] += tan[n - 1, 1] * uni[i, 9] * overshoot
            cut = -1
            if n >= 6 and uni[i, 10] < gap_prob:
                cut = 2 + int(uni[i, 11] * (n - 5))
            for t in range(n):
                if t == cut:
                    ends[n_strokes] = n_out
                    n_strokes += 1
                    continue
                out[n_out, 0] = path[t, 0]
                out[n_out, 1] = path[t, 1]
                n_out += 1
            ends[n_strokes] = n_out
            n_strokes += 1
        return out[:n_out], ends[:n_strokes]

    @numba.njit(cache=True)
    def composite_photo(labels, colours, shade, tex_amp, textures, tex_off, light, top, bottom, horizon,
                        bg_tex_amp, bg_tex_idx, noise, noise_off, noise_amp):
        h, w = labels.shape
        out = np.empty((h, w, 3), dtype=np.uint8)
        ty, tx = tex_off[0], tex_off[1]
        ny, nx = noise_off[0], noise_off[1]
        soft = 0.1 * h
        for y in range(h):
            wb = min(max((y - horizon) / soft, 0.0), 1.0)
            for x in range(w):
                lab = labels[y, x]
                if lab == 0:
                    t = 1.0 + bg_tex_amp * textures[bg_tex_idx, ty + y, tx + x]
                    for c in range(3):
                        v = (top[c] * (1.0 - wb) + bottom[c] * wb) * t + noise_amp * noise[ny + y, nx + x, c]
                        out[y, x, c] = np.uint8(min(max(v, 0.0), 1.0) * 255.0 + 0.5)
                else:
                    s = ((x - shade[lab, 0]) * light[0] + (y - shade[lab, 1]) * light[1]) * shade[lab, 2]
                    s = shade[lab, 3] * min(max(s, -1.0), 1.0)
                    t = 1.0
                    for k in range(textures.shape[0]):
                        t += tex_amp[lab, k] * textures[k, ty + y, tx + x]
                    f = (1.0 - s) * t
                    for c in range(3):
                        v = colours[lab, c] * f + noise_amp * noise[ny + y, nx + x, c]
                        out[y, x, c] = np.uint8(min(max(v, 0.0), 1.0) * 255.0 + 0.5)
        return out

    return amateur_batch, composite_photo

"""numba kernels of the doodle world (compiled on first use, cached on disk).

* ``amateur_batch`` -- draw many parts as amateur strokes in one call (see
  :func:`.parts.amateur_strokes` for the model; this is the fast path used by the generator).
* ``place_stroke3`` -- scale, rotate and shift the strokes onto the canvas; stroke-3 rows out.
* ``paint_photo`` -- paint a part label map (polygons, thick paths, clutter and occluder blobs)
  and turn it into a shaded, textured, noisy RGB photo.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: columns of the per-part random tables passed to ``amateur_batch``: ``uni`` has N_UNIFORM
#: uniforms (stroke style) then 2 * MAX_POINTS (per-point jitter, made unit-variance in the kernel:
#: uniforms are about 4x cheaper to draw than normals); ``nor`` has N_NORMAL normals (memory noise)
N_UNIFORM, N_NORMAL, MAX_POINTS = 12, 3, 65


@lru_cache(maxsize=1)
def kernels():
    import numba

    @numba.njit(cache=True)
    def amateur_batch(points, offsets, closed, uni, nor, wobble, overshoot, gap_prob, spacing, part_scale, part_shift):
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
                jx = (uni[i, N_UNIFORM + 2 * t] - 0.5) * 3.4641016151377544  # sqrt(12): unit variance
                jy = (uni[i, N_UNIFORM + 2 * t + 1] - 0.5) * 3.4641016151377544
                path[t, 0] += -tan[t, 1] * drift + 0.25 * wobble * jx
                path[t, 1] += tan[t, 0] * drift + 0.25 * wobble * jy
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
    def place_stroke3(pts, ends, scale, rotation, shift_u0, shift_u1, canvas):
        """Centre ``pts (N, 2)`` on its bounding box, scale its extent to ``scale * canvas``, rotate
        (radians), shift to a uniform position (``shift_u*`` in [0, 1]) inside the canvas;
        ``ends`` = stroke end indices. Returns ``(N, 3) float32`` stroke-3 rows."""
        n = pts.shape[0]
        lox, loy, hix, hiy = pts[0, 0], pts[0, 1], pts[0, 0], pts[0, 1]
        for j in range(n):
            lox, hix = min(lox, pts[j, 0]), max(hix, pts[j, 0])
            loy, hiy = min(loy, pts[j, 1]), max(hiy, pts[j, 1])
        f = scale * canvas / max(hix - lox, hiy - loy, 1e-6)
        c, s = np.cos(rotation) * f, np.sin(rotation) * f
        mx, my = (lox + hix) / 2, (loy + hiy) / 2
        q = np.empty((n, 2))
        for j in range(n):
            x, y = pts[j, 0] - mx, pts[j, 1] - my
            q[j, 0] = c * x - s * y
            q[j, 1] = s * x + c * y
        lox, loy, hix, hiy = q[0, 0], q[0, 1], q[0, 0], q[0, 1]
        for j in range(n):
            lox, hix = min(lox, q[j, 0]), max(hix, q[j, 0])
            loy, hiy = min(loy, q[j, 1]), max(hiy, q[j, 1])
        room_lo, room_hi = -lox, canvas - 1 - hix
        sx = shift_u0 * (room_hi - room_lo) + room_lo if room_hi > room_lo else canvas / 2 - (lox + hix) / 2
        room_lo, room_hi = -loy, canvas - 1 - hiy
        sy = shift_u1 * (room_hi - room_lo) + room_lo if room_hi > room_lo else canvas / 2 - (loy + hiy) / 2
        out = np.zeros((n, 3), dtype=np.float32)
        out[0, 0], out[0, 1] = q[0, 0] + sx, q[0, 1] + sy
        for j in range(1, n):
            out[j, 0] = q[j, 0] - q[j - 1, 0]
            out[j, 1] = q[j, 1] - q[j - 1, 1]
        for e in ends:
            out[e - 1, 2] = 1.0
        return out

    @numba.njit(cache=True)
    def _fill_polygon(labels, xy, lab, xs):
        """Even-odd scanline fill of the polygon ``xy (m, 2)`` (pixel units, pixel centres at
        ``+0.5``) with ``lab``; ``xs`` is scratch of at least ``m`` floats."""
        h, w = labels.shape
        m = xy.shape[0]
        ylo, yhi = xy[0, 1], xy[0, 1]
        for e in range(m):
            ylo, yhi = min(ylo, xy[e, 1]), max(yhi, xy[e, 1])
        for y in range(max(int(np.floor(ylo)), 0), min(int(np.ceil(yhi)) + 1, h)):
            yc = y + 0.5
            nx = 0
            for e in range(m):
                x0, y0 = xy[e, 0], xy[e, 1]
                x1, y1 = xy[(e + 1) % m, 0], xy[(e + 1) % m, 1]
                if (y0 <= yc < y1) or (y1 <= yc < y0):
                    xv = x0 + (yc - y0) * (x1 - x0) / (y1 - y0)
                    k = nx  # insertion sort
                    while k > 0 and xs[k - 1] > xv:
                        xs[k] = xs[k - 1]
                        k -= 1
                    xs[k] = xv
                    nx += 1
            for k in range(0, nx - 1, 2):
                for x in range(max(int(np.ceil(xs[k] - 0.5)), 0), min(int(np.floor(xs[k + 1] - 0.5)) + 1, w)):
                    labels[y, x] = lab

    @numba.njit(cache=True)
    def _fill_thick_path(labels, xy, radius, lab):
        """Every pixel whose centre lies within ``radius`` of the open path ``xy (m, 2)``."""
        h, w = labels.shape
        for e in range(max(xy.shape[0] - 1, 1)):
            x0, y0 = xy[e, 0], xy[e, 1]
            x1, y1 = xy[min(e + 1, xy.shape[0] - 1), 0], xy[min(e + 1, xy.shape[0] - 1), 1]
            dx, dy = x1 - x0, y1 - y0
            ll = dx * dx + dy * dy
            for y in range(max(int(min(y0, y1) - radius), 0), min(int(max(y0, y1) + radius) + 1, h)):
                for x in range(max(int(min(x0, x1) - radius), 0), min(int(max(x0, x1) + radius) + 1, w)):
                    px, py = x + 0.5 - x0, y + 0.5 - y0
                    t = min(max((px * dx + py * dy) / ll, 0.0), 1.0) if ll > 0 else 0.0
                    ex, ey = px - t * dx, py - t * dy
                    if ex * ex + ey * ey <= radius * radius:
                        labels[y, x] = lab

    @numba.njit(cache=True)
    def _fill_blob(labels, u, max_frac, lab, xs):
        """A random ellipse or 3-5-gon from one row ``u`` of 19 uniforms (centre, radius, shape,
        ellipse radii, 5 angles, 5 radii; the last 3 are its colour)."""
        h, w = labels.shape
        cx, cy = u[0] * w, u[1] * h
        r = (0.06 + (max_frac - 0.06) * u[2]) * w
        if u[3] < 0.5:
            ry = r * (0.4 + 0.3 * u[4] + 0.3 * u[5])
            cy += r * 0.3 * (u[5] - u[4])
            for y in range(max(int(cy - ry), 0), min(int(cy + ry) + 1, h)):
                b = (y + 0.5 - cy) / ry
                if b * b > 1.0:
                    continue
                half = r * np.sqrt(1.0 - b * b)  # pixel centres within the ellipse on this row
                for x in range(max(int(np.ceil(cx - half - 0.5)), 0), min(int(np.floor(cx + half - 0.5)) + 1, w)):
                    labels[y, x] = lab
        else:
            k = 3 + int(u[4] * 3)
            ang = np.sort(2 * np.pi * u[6 : 6 + k])
            xy = np.empty((k, 2))
            for j in range(k):
                rr = r * (0.5 + 0.5 * u[11 + j])
                xy[j, 0] = cx + rr * np.cos(ang[j])
                xy[j, 1] = cy + rr * np.sin(ang[j])
            _fill_polygon(labels, xy, lab, xs)

    @numba.njit(cache=True, fastmath=True)
    def paint_photo(size, points, offsets, closed, width, role, role_colour, part_u, blobs, n_clutter, n_occ, view, scene,
                    difficulty, tile):
        """Paint a photo: ``(size, size, 3) uint8``.

        Object parts: ``points`` (object frame) rows ``offsets[i]:offsets[i + 1]`` of part ``i``,
        ``closed``, ``width`` (object units, open parts), colour ``role`` into ``role_colour (R, 3)``,
        ``part_u (n, 4)`` uniforms (shading strength, textured?, texture, amplitude). ``blobs``: a row
        of uniforms per clutter blob (``n_clutter`` first) and occluder (``n_occ``). ``view``: scale,
        rotation, squash, shear, keystone, shift x, shift y. ``scene``: 17 uniforms (background
        colours, horizon, light, textures, tile offset). ``tile (2 size, 2 size, 6)``: 3 textures
        then 3 noise channels per pixel, cropped at the offset. Labels: 0 background, 1.. clutter,
        40.. parts, 220.. occluders; a label map is painted back to front, then shaded.
        """
        d = difficulty
        n = offsets.shape[0] - 1
        labels = np.zeros((size, size), dtype=np.uint8)
        colours = np.zeros((256, 3))
        shade = np.zeros((256, 4))
        tex_idx = np.zeros(256, dtype=np.int64)
        tex_amp = np.zeros(256)
        xs = np.empty(points.shape[0] + 8)
        n_tex = 3
        # background and clutter
        tex_idx[0], tex_amp[0] = int(scene[8] * n_tex), 0.05 + 0.15 * d
        for k in range(n_clutter):
            _fill_blob(labels, blobs[k], 0.15 + 0.25 * d, 1 + k, xs)
            for c in range(3):
                colours[1 + k, c] = 0.05 + 0.9 * blobs[k, 16 + c]
            tex_idx[1 + k], tex_amp[1 + k] = int(scene[9] * n_tex), 0.25 * scene[10]
        # the object: centre its bounding box, unit extent, keystone, then the camera
        lox, loy, hix, hiy = points[0, 0], points[0, 1], points[0, 0], points[0, 1]
        for j in range(points.shape[0]):
            lox, hix = min(lox, points[j, 0]), max(hix, points[j, 0])
            loy, hiy = min(loy, points[j, 1]), max(hiy, points[j, 1])
        mx, my, ext = (lox + hix) / 2, (loy + hiy) / 2, max(hix - lox, hiy - loy, 1e-6)
        sc, rot, squash, shear, keystone = view[0] * size, view[1], view[2], view[3], 2.0 * view[4]
        c, s = np.cos(rot) * sc, np.sin(rot) * sc
        a00, a01, a10, a11 = c * squash, c * shear - s, s * squash, s * shear + c
        t0, t1 = view[5] * size + size / 2, view[6] * size + size / 2
        pts = np.empty_like(points)
        for j in range(points.shape[0]):
            x, y = (points[j, 0] - mx) / ext, (points[j, 1] - my) / ext
            x *= 1.0 + keystone * y
            pts[j, 0] = a00 * x + a01 * y + t0
            pts[j, 1] = a10 * x + a11 * y + t1
        ppu = sc / ext
        for i in range(n):
            lab = 40 + i
            q = pts[offsets[i] : offsets[i + 1]]
            if closed[i] and q.shape[0] >= 3:
                _fill_polygon(labels, q, lab, xs)
            else:
                _fill_thick_path(labels, q, max(1.0, np.round(width[i] * ppu)) / 2, lab)
            lox, loy, hix, hiy = q[0, 0], q[0, 1], q[0, 0], q[0, 1]
            for j in range(q.shape[0]):
                lox, hix = min(lox, q[j, 0]), max(hix, q[j, 0])
                loy, hiy = min(loy, q[j, 1]), max(hiy, q[j, 1])
            for cc in range(3):
                colours[lab, cc] = role_colour[role[i], cc]
            shade[lab, 0], shade[lab, 1] = (lox + hix) / 2, (loy + hiy) / 2
            shade[lab, 2] = 1.0 / max(max(hix - lox, hiy - loy) / 2, 1.0)
            shade[lab, 3] = 0.15 + 0.3 * part_u[i, 0]
            tex_idx[lab] = int(part_u[i, 2] * n_tex)
            tex_amp[lab] = 0.05 + (0.07 + 0.2 * d) * part_u[i, 3] if part_u[i, 1] < 0.3 + 0.4 * d else 0.0
        # occluders in front
        for k in range(n_occ):
            _fill_blob(labels, blobs[n_clutter + k], 0.1 + 0.15 * d, 220 + k, xs)
            for cc in range(3):
                colours[220 + k, cc] = 0.05 + 0.9 * blobs[n_clutter + k, 16 + cc]
        # shade, texture, noise (float32, integer clamping: the per-pixel loop is the hot spot)
        out = np.empty((size, size, 3), dtype=np.uint8)
        ty, tx = int(scene[13] * size), int(scene[14] * size)
        ang = 2 * np.pi * scene[7]
        lx, ly = np.float32(np.cos(ang)), np.float32(np.sin(ang))
        col = (colours * 255.0).astype(np.float32)
        sh = shade.astype(np.float32)
        tamp = tex_amp.astype(np.float32)
        horizon, soft = (0.3 + 0.55 * scene[6]) * size, 0.1 * size
        amp = np.float32((0.02 + 0.03 * d) * 255.0)
        one, half_ = np.float32(1.0), np.float32(0.5)
        for y in range(size):
            wb = min(max((y - horizon) / soft, 0.0), 1.0)
            col[0, 0] = 255.0 * ((0.1 + 0.85 * scene[0]) * (1.0 - wb) + (0.05 + 0.85 * scene[3]) * wb)
            col[0, 1] = 255.0 * ((0.1 + 0.85 * scene[1]) * (1.0 - wb) + (0.05 + 0.85 * scene[4]) * wb)
            col[0, 2] = 255.0 * ((0.1 + 0.85 * scene[2]) * (1.0 - wb) + (0.05 + 0.85 * scene[5]) * wb)
            yf = np.float32(y)
            row = tile[ty + y]
            for x in range(size):
                lab = labels[y, x]
                t = row[tx + x]
                f = one + tamp[lab] * t[tex_idx[lab]]
                if lab != 0:
                    s_ = ((np.float32(x) - sh[lab, 0]) * lx + (yf - sh[lab, 1]) * ly) * sh[lab, 2]
                    f *= one - sh[lab, 3] * min(max(s_, -one), one)
                for c in range(3):
                    v = int(col[lab, c] * f + amp * t[3 + c] + half_)
                    out[y, x, c] = 0 if v < 0 else (255 if v > 255 else v)
        return out

    return amateur_batch, paint_photo, place_stroke3

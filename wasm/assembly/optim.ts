// Optimizer updates (Keras 3 formulas, one weight tensor of n floats per call) and the gradient
// clipping helpers. The host computes step-dependent scalars (Adam's alpha) once per step.

/** Σ x² over n floats, accumulated in f64 (for clipnorm / global_clipnorm). */
export function sumSquares(p: usize, n: i32): f64 {
  let acc = f32x4.splat(0);
  let s: f64 = 0;
  let i = 0;
  // Blocks of 1024 floats in f32 SIMD, folded into f64 so long tensors do not lose precision.
  while (i + 4 <= n) {
    const end = min(n & ~3, i + 1024);
    for (; i < end; i += 4) {
      const v = v128.load(p + (<usize> i << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    s += <f64> f32x4.extract_lane(acc, 0) + <f64> f32x4.extract_lane(acc, 1) +
      <f64> f32x4.extract_lane(acc, 2) + <f64> f32x4.extract_lane(acc, 3);
    acc = f32x4.splat(0);
  }
  for (; i < n; i++) {
    const v = <f64> load<f32>(p + (<usize> i << 2));
    s += v * v;
  }
  return s;
}

/** x *= s over n floats. */
export function scaleInPlace(p: usize, n: i32, s: f32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = p + (<usize> i << 2);
    v128.store(o, f32x4.mul(v128.load(o), sv));
  }
  for (; i < n; i++) {
    const o = p + (<usize> i << 2);
    store<f32>(o, load<f32>(o) * s);
  }
}

/** x = clip(x, lo, hi) over n floats (clipvalue). */
export function clipInPlace(p: usize, n: i32, lo: f32, hi: f32): void {
  const lv = f32x4.splat(lo), hv = f32x4.splat(hi);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = p + (<usize> i << 2);
    v128.store(o, f32x4.min(f32x4.max(v128.load(o), lv), hv));
  }
  for (; i < n; i++) {
    const o = p + (<usize> i << 2);
    const v = load<f32>(o);
    store<f32>(o, v < lo ? lo : v > hi ? hi : v);
  }
}

/**
 * Adam (Keras 3): m += (g − m)(1 − β1); v += (g² − v)(1 − β2); w −= alpha · m / (√v + ε), where
 * the host passes alpha = lr · √(1 − β2^t) / (1 − β1^t).
 */
export function adamUpdate(
  w: usize,
  g: usize,
  m: usize,
  v: usize,
  n: i32,
  alpha: f32,
  beta1: f32,
  beta2: f32,
  epsilon: f32,
): void {
  const a = f32x4.splat(alpha);
  const c1 = f32x4.splat(1 - beta1);
  const c2 = f32x4.splat(1 - beta2);
  const ev = f32x4.splat(epsilon);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    const gv = v128.load(g + o);
    let mv = v128.load(m + o);
    let vv = v128.load(v + o);
    mv = f32x4.add(mv, f32x4.mul(f32x4.sub(gv, mv), c1));
    vv = f32x4.add(vv, f32x4.mul(f32x4.sub(f32x4.mul(gv, gv), vv), c2));
    v128.store(m + o, mv);
    v128.store(v + o, vv);
    const step = f32x4.div(f32x4.mul(mv, a), f32x4.add(f32x4.sqrt(vv), ev));
    v128.store(w + o, f32x4.sub(v128.load(w + o), step));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    const gi = load<f32>(g + o);
    let mi = load<f32>(m + o);
    let vi = load<f32>(v + o);
    mi += (gi - mi) * (1 - beta1);
    vi += (gi * gi - vi) * (1 - beta2);
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(w + o, load<f32>(w + o) - mi * alpha / (<f32> Math.sqrt(vi) + epsilon));
  }
}

/**
 * SGD (Keras 3). momentum = 0: w −= lr·g. Otherwise m = momentum·m − lr·g and w += m, or with
 * Nesterov w += momentum·m − lr·g. `m` may be 0 when momentum = 0.
 */
export function sgdUpdate(
  w: usize,
  g: usize,
  m: usize,
  n: i32,
  lr: f32,
  momentum: f32,
  nesterov: i32,
): void {
  const lv = f32x4.splat(lr);
  const mom = f32x4.splat(momentum);
  let i = 0;
  if (momentum == 0) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize> i << 2;
      v128.store(w + o, f32x4.sub(v128.load(w + o), f32x4.mul(v128.load(g + o), lv)));
    }
    for (; i < n; i++) {
      const o = <usize> i << 2;
      store<f32>(w + o, load<f32>(w + o) - load<f32>(g + o) * lr);
    }
    return;
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    const lg = f32x4.mul(v128.load(g + o), lv);
    const mv = f32x4.sub(f32x4.mul(v128.load(m + o), mom), lg);
    v128.store(m + o, mv);
    const delta = nesterov ? f32x4.sub(f32x4.mul(mv, mom), lg) : mv;
    v128.store(w + o, f32x4.add(v128.load(w + o), delta));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    const lg = load<f32>(g + o) * lr;
    const mi = load<f32>(m + o) * momentum - lg;
    store<f32>(m + o, mi);
    store<f32>(w + o, load<f32>(w + o) + (nesterov ? mi * momentum - lg : mi));
  }
}

/**
 * RMSprop (Keras 3): v = ρv + (1−ρ)g²; centered: a = ρa + (1−ρ)g, denom = v − a² + ε, else
 * denom = v + ε; inc = lr·g/√denom; with momentum: m = momentum·m + inc, w −= m; else w −= inc.
 * `mom` / `avg` may be 0 when unused.
 */
export function rmspropUpdate(
  w: usize,
  g: usize,
  v: usize,
  mom: usize,
  avg: usize,
  n: i32,
  lr: f32,
  rho: f32,
  momentum: f32,
  epsilon: f32,
  centered: i32,
): void {
  const rv = f32x4.splat(rho), r1 = f32x4.splat(1 - rho), lv = f32x4.splat(lr);
  const ev = f32x4.splat(epsilon), mv = f32x4.splat(momentum);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    const gv = v128.load(g + o);
    const vv = f32x4.add(f32x4.mul(rv, v128.load(v + o)), f32x4.mul(r1, f32x4.mul(gv, gv)));
    v128.store(v + o, vv);
    let denom: v128;
    if (centered) {
      const av = f32x4.add(f32x4.mul(rv, v128.load(avg + o)), f32x4.mul(r1, gv));
      v128.store(avg + o, av);
      denom = f32x4.add(f32x4.sub(vv, f32x4.mul(av, av)), ev);
    } else {
      denom = f32x4.add(vv, ev);
    }
    const inc = f32x4.div(f32x4.mul(lv, gv), f32x4.sqrt(denom));
    if (momentum > 0) {
      const m2 = f32x4.add(f32x4.mul(mv, v128.load(mom + o)), inc);
      v128.store(mom + o, m2);
      v128.store(w + o, f32x4.sub(v128.load(w + o), m2));
    } else {
      v128.store(w + o, f32x4.sub(v128.load(w + o), inc));
    }
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    const gi = load<f32>(g + o);
    const vi = rho * load<f32>(v + o) + (1 - rho) * (gi * gi);
    store<f32>(v + o, vi);
    let denom: f32;
    if (centered) {
      const ai = rho * load<f32>(avg + o) + (1 - rho) * gi;
      store<f32>(avg + o, ai);
      denom = vi - ai * ai + epsilon;
    } else {
      denom = vi + epsilon;
    }
    const inc = lr * gi / <f32> Math.sqrt(denom);
    if (momentum > 0) {
      const mi = momentum * load<f32>(mom + o) + inc;
      store<f32>(mom + o, mi);
      store<f32>(w + o, load<f32>(w + o) - mi);
    } else {
      store<f32>(w + o, load<f32>(w + o) - inc);
    }
  }
}

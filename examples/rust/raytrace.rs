// raytrace: renders one tile of a fixed ray-traced scene as a binary PPM.
//
//   raytrace WIDTH HEIGHT [X Y W H [SAMPLES]]
//
// The image is WIDTH×HEIGHT pixels; the tile is the W×H rectangle whose
// top-left pixel is (X, Y) (default: the whole image); each pixel averages
// SAMPLES×SAMPLES jittered rays (default 2). stdout gets the tile as a PPM
// ("P6", binary RGB), stderr one summary line with the rays traced and an
// FNV-1a checksum of the pixels. A pixel depends only on its coordinates
// (its jitter comes from a generator seeded by them), so tiles rendered
// separately — by different workers — put together give exactly the image
// rendered whole: a job is one task per tile.
//
// Built by examples/build.sh with Debian's rustc for wasm32-wasi; plain std,
// no crates. Every float operation used (+ − × ÷, sqrt, floor, min/max,
// conversions) is exact IEEE in WebAssembly, so every engine renders the
// same bytes.

use std::io::{self, Write};
use std::process;

#[derive(Clone, Copy)]
struct V3 {
    x: f64,
    y: f64,
    z: f64,
}

impl V3 {
    const fn new(x: f64, y: f64, z: f64) -> V3 {
        V3 { x, y, z }
    }
    fn add(self, o: V3) -> V3 {
        V3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
    fn sub(self, o: V3) -> V3 {
        V3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
    fn mul(self, o: V3) -> V3 {
        V3::new(self.x * o.x, self.y * o.y, self.z * o.z)
    }
    fn scale(self, s: f64) -> V3 {
        V3::new(self.x * s, self.y * s, self.z * s)
    }
    fn dot(self, o: V3) -> f64 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }
    fn norm(self) -> V3 {
        self.scale(1.0 / self.dot(self).sqrt())
    }
}

struct Sphere {
    centre: V3,
    radius: f64,
    colour: V3,
    reflect: f64, // share of the colour that is a mirror image
}

struct Hit {
    t: f64,
    point: V3,
    normal: V3,
    colour: V3,
    reflect: f64,
}

const SPHERES: [Sphere; 5] = [
    Sphere { centre: V3::new(0.0, 1.0, 0.0), radius: 1.0, colour: V3::new(0.9, 0.2, 0.2), reflect: 0.3 },
    Sphere { centre: V3::new(-2.2, 0.7, 0.8), radius: 0.7, colour: V3::new(0.2, 0.8, 0.3), reflect: 0.1 },
    Sphere { centre: V3::new(2.0, 0.6, -0.6), radius: 0.6, colour: V3::new(0.9, 0.9, 0.9), reflect: 0.8 },
    Sphere { centre: V3::new(0.9, 0.35, 1.6), radius: 0.35, colour: V3::new(0.2, 0.3, 0.9), reflect: 0.2 },
    Sphere { centre: V3::new(-0.8, 0.25, 2.0), radius: 0.25, colour: V3::new(0.95, 0.8, 0.1), reflect: 0.5 },
];
const LIGHT: V3 = V3::new(-4.0, 6.0, 5.0);
const EYE: V3 = V3::new(0.0, 1.6, 6.0);
const MAX_DEPTH: u32 = 4;

// intersect returns the nearest hit along the ray origin + t·dir, t > ε,
// against the spheres and the checkered ground plane y = 0.
fn intersect(origin: V3, dir: V3) -> Option<Hit> {
    let mut best: Option<Hit> = None;
    for s in SPHERES.iter() {
        let oc = origin.sub(s.centre);
        let b = oc.dot(dir);
        let c = oc.dot(oc) - s.radius * s.radius;
        let disc = b * b - c;
        if disc < 0.0 {
            continue;
        }
        let root = disc.sqrt();
        let mut t = -b - root;
        if t < 1e-6 {
            t = -b + root;
        }
        if t < 1e-6 || best.as_ref().map_or(false, |h| h.t <= t) {
            continue;
        }
        let point = origin.add(dir.scale(t));
        let normal = point.sub(s.centre).scale(1.0 / s.radius);
        best = Some(Hit { t, point, normal, colour: s.colour, reflect: s.reflect });
    }
    if dir.y < 0.0 {
        let t = -origin.y / dir.y;
        if t > 1e-6 && best.as_ref().map_or(true, |h| t < h.t) {
            let point = origin.add(dir.scale(t));
            let check = ((point.x.floor() as i64) + (point.z.floor() as i64)) & 1 == 0;
            let colour = if check { V3::new(0.85, 0.85, 0.8) } else { V3::new(0.15, 0.15, 0.2) };
            best = Some(Hit { t, point, normal: V3::new(0.0, 1.0, 0.0), colour, reflect: 0.15 });
        }
    }
    best
}

// trace follows one ray: diffuse light with hard shadows, plus a mirror
// ray for reflective surfaces, up to MAX_DEPTH bounces; a sky gradient
// where nothing is hit.
fn trace(origin: V3, dir: V3, depth: u32, rays: &mut u64) -> V3 {
    *rays += 1;
    let hit = match intersect(origin, dir) {
        Some(h) => h,
        None => {
            let k = 0.5 * (dir.y + 1.0);
            return V3::new(1.0, 1.0, 1.0).scale(1.0 - k).add(V3::new(0.45, 0.65, 1.0).scale(k));
        }
    };
    let to_light = LIGHT.sub(hit.point);
    let dist2 = to_light.dot(to_light);
    let l = to_light.norm();
    let mut diffuse = hit.normal.dot(l).max(0.0);
    if diffuse > 0.0 {
        *rays += 1;
        if let Some(s) = intersect(hit.point, l) {
            if s.t * s.t < dist2 {
                diffuse = 0.0;
            }
        }
    }
    let mut colour = hit.colour.scale(0.12 + 0.88 * diffuse);
    if hit.reflect > 0.0 && depth < MAX_DEPTH {
        let r = dir.sub(hit.normal.scale(2.0 * dir.dot(hit.normal)));
        let mirrored = trace(hit.point, r, depth + 1, rays);
        colour = colour.scale(1.0 - hit.reflect).add(mirrored.mul(hit.colour).scale(hit.reflect));
    }
    colour
}

// SplitMix64, seeded per pixel: the jitter of a pixel does not depend on
// which tile it is rendered in.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    // unit returns a double in [0, 1) from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

fn to_byte(c: f64) -> u8 {
    // Gamma 2 (sqrt), clamped: exact in every engine.
    let v = c.max(0.0).min(1.0).sqrt() * 255.0 + 0.5;
    v as u8
}

struct Args {
    width: u32,
    height: u32,
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    samples: u32,
}

fn parse(args: &[String]) -> Result<Args, String> {
    if args.len() != 2 && args.len() != 6 && args.len() != 7 {
        return Err("usage: raytrace WIDTH HEIGHT [X Y W H [SAMPLES]]".to_string());
    }
    let num = |i: usize, name: &str, max: u32| -> Result<u32, String> {
        let v: u32 = args[i].parse().map_err(|_| format!("{} is not a number: {:?}", name, args[i]))?;
        if v > max {
            return Err(format!("{} {} is above {}", name, v, max));
        }
        Ok(v)
    };
    let width = num(0, "WIDTH", 16384)?;
    let height = num(1, "HEIGHT", 16384)?;
    if width == 0 || height == 0 {
        return Err("WIDTH and HEIGHT must be at least 1".to_string());
    }
    let mut a = Args { width, height, x: 0, y: 0, w: width, h: height, samples: 2 };
    if args.len() >= 6 {
        a.x = num(2, "X", width - 1)?;
        a.y = num(3, "Y", height - 1)?;
        a.w = num(4, "W", width - a.x)?;
        a.h = num(5, "H", height - a.y)?;
        if a.w == 0 || a.h == 0 {
            return Err("W and H must be at least 1".to_string());
        }
    }
    if args.len() == 7 {
        a.samples = num(6, "SAMPLES", 64)?;
        if a.samples == 0 {
            return Err("SAMPLES must be at least 1".to_string());
        }
    }
    Ok(a)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let a = match parse(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("raytrace: {}", e);
            process::exit(2);
        }
    };
    // The camera looks down −z from EYE, tilted slightly down; the view
    // plane spans 2 units vertically at distance 2.4.
    let forward = V3::new(0.0, -0.25, -1.0).norm();
    let right = V3::new(1.0, 0.0, 0.0);
    let up = V3::new(0.0, -forward.z, forward.y); // right × forward
    let aspect = a.width as f64 / a.height as f64;
    let n = a.samples as f64;

    let mut pixels = Vec::with_capacity((a.w * a.h * 3) as usize);
    let mut rays = 0u64;
    for py in a.y..a.y + a.h {
        for px in a.x..a.x + a.w {
            let mut rng = Rng(((py as u64) << 32) | px as u64);
            let mut sum = V3::new(0.0, 0.0, 0.0);
            for sy in 0..a.samples {
                for sx in 0..a.samples {
                    let u = ((px as f64 + (sx as f64 + rng.unit()) / n) / a.width as f64 * 2.0 - 1.0) * aspect;
                    let v = 1.0 - (py as f64 + (sy as f64 + rng.unit()) / n) / a.height as f64 * 2.0;
                    let dir = forward.scale(2.4).add(right.scale(u)).add(up.scale(v)).norm();
                    sum = sum.add(trace(EYE, dir, 0, &mut rays));
                }
            }
            let c = sum.scale(1.0 / (n * n));
            pixels.push(to_byte(c.x));
            pixels.push(to_byte(c.y));
            pixels.push(to_byte(c.z));
        }
    }

    let mut fnv: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &pixels {
        fnv = (fnv ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let out = io::stdout();
    let mut out = out.lock();
    let header = format!("P6\n{} {}\n255\n", a.w, a.h);
    if let Err(e) = out.write_all(header.as_bytes()).and_then(|_| out.write_all(&pixels)).and_then(|_| out.flush()) {
        eprintln!("raytrace: writing the image: {}", e);
        process::exit(1);
    }
    eprintln!(
        "raytrace {}x{} tile {},{} {}x{} samples={} rays={} fnv={:016x}",
        a.width, a.height, a.x, a.y, a.w, a.h, a.samples * a.samples, rays, fnv
    );
}

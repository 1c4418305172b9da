//! Procedurally drawn digits, so a config trains with no files and no network.
//!
//! Each digit is a set of pen strokes in a unit box. A drawing jitters the stroke points,
//! applies a random scale, slant and offset, renders the strokes with a random pen width and
//! soft edges into 28x28 bytes (white on black, as MNIST), and adds pixel noise.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::idx::{Images, PIXELS, SIDE};

type Point = (f32, f32);

/// Points of an elliptic arc, angles in degrees, y pointing down.
fn arc(center: Point, radius: Point, from: f32, to: f32) -> Vec<Point> {
    let steps = 12;
    (0..=steps)
        .map(|i| {
            let angle = (from + (to - from) * i as f32 / steps as f32).to_radians();
            (
                center.0 + radius.0 * angle.cos(),
                center.1 + radius.1 * angle.sin(),
            )
        })
        .collect()
}

/// The strokes (polylines in a unit box) of one digit.
fn strokes(digit: u8) -> Vec<Vec<Point>> {
    match digit {
        0 => vec![arc((0.5, 0.5), (0.28, 0.4), 0.0, 360.0)],
        1 => vec![vec![(0.36, 0.25), (0.52, 0.1), (0.52, 0.9)]],
        2 => {
            let mut top = arc((0.5, 0.32), (0.25, 0.22), 180.0, 400.0);
            top.extend([(0.22, 0.9), (0.8, 0.9)]);
            vec![top]
        }
        3 => vec![
            arc((0.5, 0.3), (0.22, 0.2), 200.0, 450.0),
            arc((0.5, 0.7), (0.25, 0.2), -90.0, 160.0),
        ],
        4 => vec![vec![(0.66, 0.9), (0.66, 0.1), (0.2, 0.64), (0.85, 0.64)]],
        5 => {
            let mut body = vec![(0.75, 0.1), (0.32, 0.1), (0.3, 0.46)];
            body.extend(arc((0.5, 0.66), (0.24, 0.23), -136.0, 150.0));
            vec![body]
        }
        6 => vec![
            vec![(0.68, 0.1), (0.45, 0.3), (0.31, 0.62)],
            arc((0.5, 0.68), (0.2, 0.2), 0.0, 360.0),
        ],
        7 => vec![vec![(0.2, 0.1), (0.8, 0.1), (0.42, 0.9)]],
        8 => vec![
            arc((0.5, 0.29), (0.18, 0.18), 0.0, 360.0),
            arc((0.5, 0.7), (0.22, 0.21), 0.0, 360.0),
        ],
        _ => vec![
            arc((0.5, 0.32), (0.2, 0.2), 0.0, 360.0),
            vec![(0.7, 0.32), (0.62, 0.9)],
        ],
    }
}

/// Random settings of one drawing.
struct Pen {
    scale: f32,
    slant: f32,
    offset: Point,
    width: f32,
    noise: f32,
}

impl Pen {
    fn random(rng: &mut ChaCha8Rng) -> Pen {
        Pen {
            scale: rng.random_range(0.75..1.05),
            slant: rng.random_range(-0.35..0.35),
            offset: (rng.random_range(-2.5..2.5), rng.random_range(-2.0..2.0)),
            width: rng.random_range(1.4..3.2),
            noise: rng.random_range(0.0..0.15),
        }
    }

    /// Maps a unit-box point to pixel coordinates: 20x20 pixels centered in the 28x28 image,
    /// as MNIST centers its digits.
    fn place(&self, (x, y): Point) -> Point {
        let (cx, cy) = (x - 0.5, y - 0.5);
        let px = 14.0 + (cx - self.slant * cy) * 20.0 * self.scale * 0.8 + self.offset.0;
        let py = 14.0 + cy * 20.0 * self.scale + self.offset.1;
        (px, py)
    }
}

fn distance_to_segment(p: Point, a: Point, b: Point) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length2 = dx * dx + dy * dy;
    let t = if length2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / length2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
}

/// Draws one digit into 784 bytes.
pub fn draw(digit: u8, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let pen = Pen::random(rng);
    let segments: Vec<(Point, Point)> = strokes(digit)
        .into_iter()
        .flat_map(|line| {
            let placed: Vec<Point> = line
                .iter()
                .map(|&(x, y)| {
                    let jitter = (rng.random_range(-0.03..0.03), rng.random_range(-0.03..0.03));
                    pen.place((x + jitter.0, y + jitter.1))
                })
                .collect();
            placed.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>()
        })
        .collect();
    let mut pixels = vec![0u8; PIXELS];
    for (index, pixel) in pixels.iter_mut().enumerate() {
        let center = ((index % SIDE) as f32 + 0.5, (index / SIDE) as f32 + 0.5);
        let distance = segments
            .iter()
            .map(|&(a, b)| distance_to_segment(center, a, b))
            .fold(f32::INFINITY, f32::min);
        // Full ink inside the pen, fading to none over one pixel, as anti-aliased scans look.
        let ink = (pen.width / 2.0 + 0.5 - distance).clamp(0.0, 1.0);
        let noise = rng.random_range(0.0..1.0f32) * pen.noise;
        *pixel = ((ink + noise).min(1.0) * 255.0).round() as u8;
    }
    pixels
}

/// Draws `count` digits with uniformly random labels from `seed`.
pub fn generate(count: usize, seed: u64) -> (Images, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(count * PIXELS);
    let mut labels = Vec::with_capacity(count);
    for _ in 0..count {
        let label = rng.random_range(0..10u8);
        pixels.extend(draw(label, &mut rng));
        labels.push(label);
    }
    (Images { pixels }, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_digits() {
        let (a, la) = generate(20, 7);
        let (b, lb) = generate(20, 7);
        assert_eq!(a.pixels, b.pixels);
        assert_eq!(la, lb);
    }

    #[test]
    fn digits_have_ink_inside_frame() {
        let (images, _) = generate(50, 1);
        for index in 0..images.count() {
            let image = images.image(index);
            let ink = image.iter().filter(|&&p| p > 128).count();
            assert!(ink > 20, "image {index} has only {ink} inked pixels");
            // MNIST digits leave the outer rows empty; drawings should stay mostly inside.
            let border_ink: u32 = image[..SIDE].iter().map(|&p| (p > 200) as u32).sum();
            assert!(border_ink < 3, "image {index} inks the top row");
        }
    }
}

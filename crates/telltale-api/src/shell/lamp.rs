//! The tray lamp's pixels. Its state shows by shape as well as by colour,
//! for operators who do not tell red from green, with the same shapes as
//! the web UI's badges: a ring when idle (○), a disc when all is well (●),
//! a half disc when some feeds are not live (◐), a triangle when alerts
//! fire (▲), a square with a cross when Telltale cannot store data (✕).

use crate::OverviewLevel;

/// Side of the tray lamp, in pixels.
pub const LAMP_SIZE: u32 = 32;

/// The lamp's colour for an overview level.
pub fn lamp_colour(level: OverviewLevel) -> [u8; 3] {
    match level {
        OverviewLevel::Idle => [0x8a, 0x93, 0x9c],
        OverviewLevel::Ok => [0x2e, 0xcc, 0x71],
        OverviewLevel::Degraded => [0xf5, 0xa6, 0x23],
        OverviewLevel::Firing => [0xe7, 0x4c, 0x3c],
        OverviewLevel::Failing => [0x9b, 0x1c, 0x1c],
    }
}

const RIM: [u8; 3] = [0x1e, 0x24, 0x2b];
const LIGHT: [u8; 3] = [0xf4, 0xf5, 0xf7];
/// Rim width (px).
const EDGE: f32 = 2.5;

/// What covers a point of the lamp.
#[derive(Clone, Copy, PartialEq)]
enum Paint {
    Clear,
    Rim,
    Fill,
    Light,
}

/// The paint at a point (continuous coordinates, 0..LAMP_SIZE).
fn paint(level: OverviewLevel, x: f32, y: f32) -> Paint {
    let n = LAMP_SIZE as f32;
    let c = n / 2.0;
    let r = c - 1.0;
    let d = ((x - c).powi(2) + (y - c).powi(2)).sqrt();
    match level {
        OverviewLevel::Idle => {
            if d > r {
                Paint::Clear
            } else if d > r - EDGE {
                Paint::Rim
            } else if d > r - EDGE - 3.0 {
                Paint::Fill
            } else {
                Paint::Clear
            }
        }
        OverviewLevel::Ok | OverviewLevel::Degraded => {
            if d > r {
                Paint::Clear
            } else if d > r - EDGE {
                Paint::Rim
            } else if level == OverviewLevel::Degraded && x >= c {
                Paint::Light
            } else {
                Paint::Fill
            }
        }
        OverviewLevel::Firing => {
            // an upward triangle: inside when on the inner side of all three edges
            let (ax, ay, bx, by, cx, cy) = (c, 2.0, n - 1.5, n - 3.0, 1.5, n - 3.0);
            let edge = |x0: f32, y0: f32, x1: f32, y1: f32| {
                let (dx, dy) = (x1 - x0, y1 - y0);
                ((x - x0) * dy - (y - y0) * dx) / (dx * dx + dy * dy).sqrt()
            };
            let inside = edge(ax, ay, cx, cy)
                .min(edge(cx, cy, bx, by))
                .min(edge(bx, by, ax, ay));
            if inside < 0.0 {
                Paint::Clear
            } else if inside < EDGE {
                Paint::Rim
            } else {
                Paint::Fill
            }
        }
        OverviewLevel::Failing => {
            let inside = (x - 1.5).min(y - 1.5).min(n - 1.5 - x).min(n - 1.5 - y);
            // the cross's two strokes, inside the rim
            let stroke = ((x - y).abs()).min((x + y - n).abs()) / std::f32::consts::SQRT_2;
            if inside < 0.0 {
                Paint::Clear
            } else if inside < EDGE {
                Paint::Rim
            } else if stroke < 2.2 && inside > EDGE + 3.0 {
                Paint::Light
            } else {
                Paint::Fill
            }
        }
    }
}

/// The lamp for `level`: [`LAMP_SIZE`]² RGBA pixels, its edges smoothed
/// by 4×4 samples a pixel.
pub fn lamp_rgba(level: OverviewLevel) -> Vec<u8> {
    let fill = lamp_colour(level);
    let n = LAMP_SIZE as usize;
    let mut rgba = vec![0u8; n * n * 4];
    const S: usize = 4;
    for y in 0..n {
        for x in 0..n {
            let mut sum = [0f32; 3];
            let mut covered = 0f32;
            for sy in 0..S {
                for sx in 0..S {
                    let px = x as f32 + (sx as f32 + 0.5) / S as f32;
                    let py = y as f32 + (sy as f32 + 0.5) / S as f32;
                    let colour = match paint(level, px, py) {
                        Paint::Clear => continue,
                        Paint::Rim => RIM,
                        Paint::Fill => fill,
                        Paint::Light => LIGHT,
                    };
                    covered += 1.0;
                    for (s, c) in sum.iter_mut().zip(colour) {
                        *s += f32::from(c);
                    }
                }
            }
            let i = (y * n + x) * 4;
            if covered > 0.0 {
                for k in 0..3 {
                    rgba[i + k] = (sum[k] / covered).round() as u8;
                }
                rgba[i + 3] = (covered / (S * S) as f32 * 255.0).round() as u8;
            }
        }
    }
    rgba
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEVELS: [OverviewLevel; 5] = [
        OverviewLevel::Idle,
        OverviewLevel::Ok,
        OverviewLevel::Degraded,
        OverviewLevel::Firing,
        OverviewLevel::Failing,
    ];

    fn px(img: &[u8], x: u32, y: u32) -> [u8; 4] {
        let i = ((y * LAMP_SIZE + x) * 4) as usize;
        [img[i], img[i + 1], img[i + 2], img[i + 3]]
    }

    #[test]
    fn lamp_is_rgba_of_the_right_size_with_the_levels_colour() {
        let img = lamp_rgba(OverviewLevel::Ok);
        assert_eq!(img.len(), (LAMP_SIZE * LAMP_SIZE * 4) as usize);
        assert_eq!(px(&img, 16, 16), [0x2e, 0xcc, 0x71, 0xff]);
        assert_eq!(px(&img, 0, 0)[3], 0, "a corner is transparent");
        assert_eq!(
            px(&lamp_rgba(OverviewLevel::Firing), 16, 20),
            [0xe7, 0x4c, 0x3c, 0xff]
        );
    }

    #[test]
    fn each_state_has_its_own_shape_not_only_its_colour() {
        // the opaque pixels alone (no colour) differ between every two levels
        let masks: Vec<Vec<bool>> = LEVELS
            .iter()
            .map(|l| lamp_rgba(*l).chunks(4).map(|p| p[3] > 127).collect())
            .collect();
        for i in 0..masks.len() {
            for j in i + 1..masks.len() {
                let differ = masks[i]
                    .iter()
                    .zip(&masks[j])
                    .filter(|(a, b)| a != b)
                    .count();
                // Ok and Degraded share the disc; the half is told by its light side
                if (LEVELS[i], LEVELS[j]) == (OverviewLevel::Ok, OverviewLevel::Degraded) {
                    continue;
                }
                assert!(
                    differ > 20,
                    "{:?} and {:?} differ in {differ} px only",
                    LEVELS[i],
                    LEVELS[j]
                );
            }
        }
        // idle is a ring: hollow in the middle
        assert_eq!(px(&lamp_rgba(OverviewLevel::Idle), 16, 16)[3], 0);
        // degraded: the left half coloured, the right half light
        let d = lamp_rgba(OverviewLevel::Degraded);
        assert_eq!(px(&d, 8, 16), [0xf5, 0xa6, 0x23, 0xff]);
        assert_eq!(px(&d, 23, 16), [0xf4, 0xf5, 0xf7, 0xff]);
        // firing is a triangle: clear where a disc would be painted, upper left
        assert_eq!(px(&lamp_rgba(OverviewLevel::Firing), 5, 8)[3], 0);
        assert!(px(&lamp_rgba(OverviewLevel::Ok), 5, 8)[3] > 200);
        // failing is a square: painted in the corner a disc leaves clear, with a light cross
        let f = lamp_rgba(OverviewLevel::Failing);
        assert!(px(&f, 4, 4)[3] > 200);
        assert_eq!(px(&f, 16, 16), [0xf4, 0xf5, 0xf7, 0xff]);
        assert_eq!(px(&f, 16, 8)[..3], [0x9b, 0x1c, 0x1c]);
    }
}

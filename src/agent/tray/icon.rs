//! The tray's icons, drawn in code: a disc in the state's colour with a border in the brand's
//! dark blue (`assets/icon.svg`), as straight RGBA. Nothing to ship or load at run time.
//!
//! Edges are smoothed by sampling each pixel on a 4×4 grid, in integer arithmetic.

use super::state::Tone;

/// Width and height in pixels; appindicator and the Windows/macOS trays scale it down.
pub const SIZE: u32 = 64;

/// The brand's dark blue, from `assets/icon.svg`.
const BORDER: [u8; 3] = [0x1a, 0x36, 0x5d];

/// The fill of each tone.
pub fn fill(tone: Tone) -> [u8; 3] {
    match tone {
        Tone::Green => [0x38, 0xa1, 0x69],
        Tone::Amber => [0xdd, 0x6b, 0x20],
        Tone::Red => [0xe5, 0x3e, 0x3e],
        // The brand blue of `assets/icon.svg`.
        Tone::Neutral => [0x2b, 0x6c, 0xb0],
        Tone::Grey => [0xa0, 0xae, 0xc0],
    }
}

/// The icon of `tone` as `SIZE × SIZE` RGBA bytes, rows top to bottom.
pub fn rgba(tone: Tone) -> Vec<u8> {
    const SUB: i64 = 4;
    // Coordinates are in sub-pixel units (SUB per pixel) so every test is on integers.
    let size = i64::from(SIZE);
    let centre = size * SUB / 2;
    let outer = (size / 2 - 2) * SUB;
    let inner = outer - 5 * SUB;
    let (outer2, inner2) = (outer * outer, inner * inner);
    let fill = fill(tone);
    let mut pixels = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    for y in 0..size {
        for x in 0..size {
            let (mut border_hits, mut fill_hits) = (0u32, 0u32);
            for sy in 0..SUB {
                for sx in 0..SUB {
                    // The centre of the sub-sample, in doubled sub-pixel units to stay integral.
                    let dx = 2 * (x * SUB + sx) + 1 - 2 * centre;
                    let dy = 2 * (y * SUB + sy) + 1 - 2 * centre;
                    let d2 = dx * dx + dy * dy;
                    if d2 <= 4 * inner2 {
                        fill_hits += 1;
                    } else if d2 <= 4 * outer2 {
                        border_hits += 1;
                    }
                }
            }
            let hits = border_hits + fill_hits;
            if hits == 0 {
                pixels.extend_from_slice(&[0, 0, 0, 0]);
                continue;
            }
            // Colour: the covered parts' average; alpha: the covered share of the pixel.
            let mix = |channel: usize| {
                ((u32::from(fill[channel]) * fill_hits + u32::from(BORDER[channel]) * border_hits) / hits) as u8
            };
            let alpha = (hits * 255 / (SUB * SUB) as u32) as u8;
            pixels.extend_from_slice(&[mix(0), mix(1), mix(2), alpha]);
        }
    }
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(pixels: &[u8], x: u32, y: u32) -> [u8; 4] {
        let at = ((y * SIZE + x) * 4) as usize;
        [pixels[at], pixels[at + 1], pixels[at + 2], pixels[at + 3]]
    }

    #[test]
    fn a_disc_with_a_border_on_a_clear_background() {
        for tone in [Tone::Green, Tone::Amber, Tone::Red, Tone::Neutral, Tone::Grey] {
            let pixels = rgba(tone);
            assert_eq!(pixels.len(), (SIZE * SIZE * 4) as usize);
            let [r, g, b] = fill(tone);
            assert_eq!(pixel(&pixels, SIZE / 2, SIZE / 2), [r, g, b, 255], "the centre is the tone");
            assert_eq!(pixel(&pixels, 0, 0)[3], 0, "the corners are transparent");
            let [br, bg, bb] = BORDER;
            assert_eq!(pixel(&pixels, SIZE / 2, 3), [br, bg, bb, 255], "the rim is the border colour");
        }
    }

    #[test]
    fn every_tone_looks_different() {
        let tones = [Tone::Green, Tone::Amber, Tone::Red, Tone::Neutral, Tone::Grey];
        let fills: std::collections::HashSet<_> = tones.iter().map(|t| fill(*t)).collect();
        assert_eq!(fills.len(), tones.len());
    }
}

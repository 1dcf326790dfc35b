//! Shared plotting setup: PNG reports must render the same on any machine, so the font is compiled
//! into the binary (DejaVu Sans, `data/fonts/`, licence beside it) instead of looked up on the system.

use std::sync::Once;

static FONT: &[u8] = include_bytes!("../data/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Registers the embedded font as plotters' "sans-serif"; call before drawing any text.
pub fn register_font() {
    REGISTER.call_once(|| {
        // Registration fails only for unparsable font bytes, which the embedded file is not.
        let _ =
            plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, FONT);
    });
}

/// Label colours: distinguishable, stable by label index.
pub fn palette(i: usize) -> plotters::style::RGBColor {
    const P: [(u8, u8, u8); 12] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
        (0, 0, 128),
        (128, 128, 0),
    ];
    let (r, g, b) = P[i % P.len()];
    plotters::style::RGBColor(r, g, b)
}

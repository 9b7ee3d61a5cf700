//! The report's two faces and the width of text set in them, measured from the font's own
//! advance widths so that numbers right-align and long names are cut to fit.

use std::sync::LazyLock;

use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

/// A face of the report's font.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// DejaVu Sans.
    Regular,
    /// DejaVu Sans Bold.
    Bold,
}

impl Face {
    /// The font file.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Face::Regular => dejavu::sans::regular(),
            Face::Bold => dejavu::sans::bold(),
        }
    }
}

/// What measuring needs of a face: its character map and its advances at 1 pt.
struct Metrics {
    charmap: skrifa::charmap::Charmap<'static>,
    advances: GlyphMetrics<'static>,
}

impl Metrics {
    /// `None` only if the font crate shipped a broken file, which a unit test rules out.
    fn of(face: Face) -> Option<Self> {
        let font = FontRef::new(face.bytes()).ok()?;
        Some(Self {
            charmap: font.charmap(),
            advances: font.glyph_metrics(Size::new(1.0), LocationRef::default()),
        })
    }

    /// Width in points of `text` at 1 pt. A character the font lacks is drawn as its
    /// `.notdef` box, glyph 0, and measured as one.
    fn width(&self, text: &str) -> f32 {
        text.chars()
            .map(|c| {
                let glyph = self.charmap.map(c).unwrap_or_default();
                self.advances.advance_width(glyph).unwrap_or(0.0)
            })
            .sum()
    }
}

static REGULAR: LazyLock<Option<Metrics>> = LazyLock::new(|| Metrics::of(Face::Regular));
static BOLD: LazyLock<Option<Metrics>> = LazyLock::new(|| Metrics::of(Face::Bold));

/// Width in points of `text` set in `face` at `size` points.
pub fn text_width(face: Face, size: f32, text: &str) -> f32 {
    let metrics = match face {
        Face::Regular => &*REGULAR,
        Face::Bold => &*BOLD,
    };
    // Without metrics (never, see `Metrics::of`), an em per character over-estimates, so
    // text is cut rather than overlapping its neighbour.
    metrics
        .as_ref()
        .map_or(text.chars().count() as f32, |m| m.width(text))
        * size
}

/// `text`, cut at a character boundary and ended with `…` when it is wider than `width`.
pub fn fit(face: Face, size: f32, text: &str, width: f32) -> String {
    if text_width(face, size, text) <= width {
        return text.to_owned();
    }
    let room = width - text_width(face, size, "…");
    let mut used = 0.0;
    let mut cut = String::new();
    for c in text.chars() {
        let mut buffer = [0; 4];
        used += text_width(face, size, c.encode_utf8(&mut buffer));
        if used > room {
            break;
        }
        cut.push(c);
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_faces_load_and_measure_proportionally() {
        assert!(REGULAR.is_some() && BOLD.is_some());
        let narrow = text_width(Face::Regular, 10.0, "iiii");
        let wide = text_width(Face::Regular, 10.0, "WWWW");
        assert!(narrow > 0.0 && wide > 2.0 * narrow, "{narrow} {wide}");
        assert!(text_width(Face::Bold, 10.0, "Spend") > text_width(Face::Regular, 10.0, "Spend"));
        // Twice the size, twice the width.
        let at_20 = text_width(Face::Regular, 20.0, "Grüße");
        assert!((at_20 - 2.0 * text_width(Face::Regular, 10.0, "Grüße")).abs() < 0.01);
    }

    #[test]
    fn long_text_is_cut_to_fit_with_an_ellipsis() {
        let name = "Ключ для производственного сервера номер один";
        let cut = fit(Face::Regular, 8.0, name, 60.0);
        assert!(cut.ends_with('…') && cut.len() < name.len(), "{cut}");
        assert!(text_width(Face::Regular, 8.0, &cut) <= 60.0);
        assert_eq!(fit(Face::Regular, 8.0, "short", 60.0), "short");
    }
}
